"""Ingest: synthetic member events through the real core (console translation, then the
intake every platform adapter uses: normalise, dedupe, activity logging, the bounded
processor handling welcomes, member resolution) into SQLite, against plain
`sqlite3.executemany` of the same rows into the same schema. Timed until every event is
handled and stored."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime

from adapters.console import ConsoleAdapter
from benchmarks.common import (
    Result,
    Timer,
    drop_postgres,
    emit,
    fresh_postgres,
    fresh_sqlite,
    median,
    peak_rss_mb,
    plain_dsn,
    postgres_server,
    runs,
    truncate_postgres,
)
from bot.cli import build
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
    app = build(settings, schedule=False)
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 (opening /dev/null does not block)
        console = ConsoleAdapter(out=sink)
        app.add_platform(console)
        await app.start(migrate=False)
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
                    await app.submit(event, key=event.channel.id)
                    count += 1
            await app.processor.drain()
            await app.activity.flush()
        await app.close()
    return count / timer.seconds, count


def activity_rows(history: Script, ts) -> Iterator[list[tuple]]:
    """The rows the core writes for the history, in batches of 2,000."""
    batch: list[tuple] = []
    for n, (member, channel, kind) in enumerate(history):
        batch.append(
            (ts, member + 1, channel + 1, KINDS[kind], "console", f"e{n}", f"m{n}", None,
             len(LINES[kind]), None)
        )  # fmt: skip
        if len(batch) >= 2000:
            yield batch
            batch = []
    if batch:
        yield batch


INSERT = (
    "INSERT INTO activity (ts, member_id, channel_id, kind, platform, event_id, message_id,"
    " thread_id, size, text) VALUES ({})"
)


def sqlite_baseline(path, history: Script) -> float:
    """Plain sqlite3 executemany of the same rows into the same schema."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = INSERT.format(",".join("?" * 10)) + " ON CONFLICT DO NOTHING"
    count = 0
    with Timer() as timer:
        for batch in activity_rows(history, now):
            db.executemany(sql, batch)
            db.commit()
            count += len(batch)
    db.close()
    return count / timer.seconds


def postgres_baseline(url: str, history: Script) -> float:
    """COPY of the same rows into the same schema with psycopg."""
    import psycopg

    now = datetime.now(UTC)
    count = 0
    with psycopg.connect(plain_dsn(url)) as conn, Timer() as timer:
        for batch in activity_rows(history, now):
            with conn.cursor().copy(
                "COPY activity (ts, member_id, channel_id, kind, platform, event_id,"
                " message_id, thread_id, size, text) FROM STDIN"
            ) as copy:
                for row in batch:
                    copy.write_row(row)
            conn.commit()
            count += len(batch)
    return count / timer.seconds


def rate_row(database: str, core: float, base: float, baseline_name: str) -> Result:
    return Result(
        "ingest",
        f"events/s through the core ({EVENTS:,} events, {database})",
        core,
        f"events/s (higher is better); baseline: {baseline_name}",
        base,
        target="ratio >= 0.5" if database == "SQLite" else "",
        met=core / base >= 0.5 if database == "SQLite" else None,
    )


def main() -> None:
    history = Script()
    base_rates, core_rates = [], []
    for i in range(runs(1)):  # a run of 1,000,000 events takes about 100 s here
        _, path = fresh_sqlite(f"ingest-baseline-{i}")
        base_rates.append(sqlite_baseline(path, history))
        path.unlink()
    for i in range(runs(1)):
        url, path = fresh_sqlite(f"ingest-core-{i}")
        core_rates.append(asyncio.run(through_core(url, history))[0])
        path.unlink()
    peak = peak_rss_mb()
    results = [
        rate_row("SQLite", median(core_rates), median(base_rates), "sqlite3 executemany"),
        Result("ingest", "peak memory (SQLite)", peak, "MB (lower is better)",
               target="< 300 MB", met=peak < 300),
    ]  # fmt: skip
    if postgres_server():
        url = fresh_postgres("ingest")
        try:
            base = postgres_baseline(url, history)
            truncate_postgres(url)
            core = asyncio.run(through_core(url, history))[0]
        finally:
            drop_postgres(url)
        results.append(rate_row("PostgreSQL", core, base, "psycopg COPY"))
    emit(results)


if __name__ == "__main__":
    main()
