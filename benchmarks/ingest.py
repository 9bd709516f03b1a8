"""Ingest: synthetic member events through the real core (console translation, dedupe,
member resolution, activity logging) into SQLite, against plain `sqlite3.executemany` of
the same rows into the same schema."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime

from adapters.console import ConsoleAdapter
from benchmarks.common import Result, Timer, emit, fresh_sqlite, median, peak_rss_mb, runs
from bot.app import Convener
from bot.settings import Settings

EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", "1000000"))
MEMBERS = 5000
CHANNELS = 50


LINES = (
    "/join #c{channel}",
    "How do you phase property tax reassessments?",
    "/reply We did it over three years in Nairobi.",
    "/react +1",
)
KINDS = ("join", "message", "reply", "reaction")


class Script:
    """The synthetic history, generated once and kept compact (three arrays), so neither
    the core nor the baseline pays for random numbers while timed. Every member first joins a
    channel, then posts (60%), replies (20%), reacts (15%) or joins another channel (5%)."""

    def __init__(self, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.members, self.channels, self.kinds = array("H"), array("B"), array("B")
        joined: set[int] = set()
        for _ in range(EVENTS):
            member, channel, roll = rnd.randrange(MEMBERS), rnd.randrange(CHANNELS), rnd.random()
            if member not in joined or roll < 0.05:
                joined.add(member)
                kind = 0
            else:
                kind = 1 if roll < 0.65 else 2 if roll < 0.85 else 3
            self.members.append(member)
            self.channels.append(channel)
            self.kinds.append(kind)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return zip(self.members, self.channels, self.kinds, strict=True)


async def through_core(url: str, history: Script) -> tuple[float, int]:
    settings = Settings(_env_file=None, database_url=url)
    app = Convener(settings)
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 (opening /dev/null does not block)
        console = ConsoleAdapter(out=sink)
        app.add_platform(console)
        await app.start(migrate=False, schedule=False)
        count = 0
        with Timer() as timer:
            for member_no, channel_no, kind in history:
                member, channel = f"m{member_no}", f"c{channel_no}"
                console.state.user = member
                console.state.where.setdefault(member, channel)
                if kind:
                    console.state.where[member] = channel
                events = console.parse(LINES[kind].format(channel=channel_no))
                if isinstance(events, str):  # already in that channel: post instead
                    events = console.parse("Thanks, that helps.")
                for event in events:
                    await app.handle(event)
                    count += 1
            await app.activity.flush()
        await app.close()
    return count / timer.seconds, count


def baseline(path, history: Script) -> float:
    """The same number of rows, same shape, same schema, plain sqlite3 executemany."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    db.executemany(
        "INSERT INTO members (id, display_name, is_bot, is_away, created_at) VALUES (?,?,0,0,?)",
        [(i + 1, f"m{i}", now) for i in range(MEMBERS)],
    )
    db.commit()
    batch: list[tuple] = []
    count = 0
    with Timer() as timer:
        for n, (member, channel, kind) in enumerate(history):
            batch.append(
                (
                    now,
                    member + 1,
                    channel + 1,
                    KINDS[kind],
                    "console",
                    f"e{n}",
                    f"m{n}",
                    None,
                    len(LINES[kind]),
                    None,
                )
            )
            if len(batch) >= 2000:
                db.executemany(
                    "INSERT INTO activity (ts, member_id, channel_id, kind, platform, event_id,"
                    " message_id, thread_id, size, text) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT DO NOTHING",
                    batch,
                )
                db.commit()
                count += len(batch)
                batch.clear()
        if batch:
            db.executemany(
                "INSERT INTO activity (ts, member_id, channel_id, kind, platform, event_id,"
                " message_id, thread_id, size, text) VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
            db.commit()
            count += len(batch)
    db.close()
    return count / timer.seconds


def main() -> None:
    history = Script()
    base_rates, core_rates = [], []
    for i in range(runs()):
        _, path = fresh_sqlite(f"ingest-baseline-{i}")
        base_rates.append(baseline(path, history))
        path.unlink()
    for i in range(runs()):
        url, path = fresh_sqlite(f"ingest-core-{i}")
        rate, _ = asyncio.run(through_core(url, history))
        core_rates.append(rate)
        path.unlink()
    base, core = median(base_rates), median(core_rates)
    peak = peak_rss_mb()
    emit(
        [
            Result(
                "ingest",
                f"events/s through the core ({EVENTS:,} events, SQLite)",
                core,
                "events/s (higher is better)",
                base,
                target="ratio >= 0.25",
                met=core / base >= 0.25,
            ),
            Result(
                "ingest",
                "peak memory",
                peak,
                "MB (lower is better)",
                target="< 300 MB",
                met=peak < 300,
            ),
        ]
    )


if __name__ == "__main__":
    main()
