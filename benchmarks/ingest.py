"""Ingest: synthetic member events through the real core (console translation, then the
intake every platform adapter uses: normalise, dedupe, activity logging, the bounded
processor, member resolution) into SQLite, against plain `sqlite3.executemany` of the same
rows into the same schema; with `CONVENER_TEST_DATABASE_URL` set, into PostgreSQL too,
against psycopg's `COPY`. Timed until every event is handled and stored.

What is timed is the hot path: ordinary events (messages, replies, reactions, joins) from
members the bot has already met, each costing its activity row and nothing else, as the
same rows cost the baseline. First sights come before, timed apart and reported as their own
figure: a newcomer's first join creates the member, takes a claim, opens onboarding and sends
two DMs, writes the baseline does not make.

Size: 200,000 ordinary events from 5,000 members (`BENCH_INGEST_EVENTS`,
`BENCH_INGEST_MEMBERS`); 10,000 from 250 in quick mode. Members are a fortieth of the events
unless set (at most 5,000)."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
from array import array
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

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
    size,
    truncate_postgres,
)
from bot.cli import build, tune_runtime
from bot.settings import Settings

EVENTS = size("BENCH_INGEST_EVENTS", 200_000, 10_000)
MEMBERS = int(os.environ.get("BENCH_INGEST_MEMBERS") or min(5000, max(50, EVENTS // 40)))
CHANNELS = 50
TARGETS = {"SQLite": 0.6, "PostgreSQL": 0.3}  # of the baseline's rate


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
    channel (the first sights, `MEMBERS` events), then members post (60%), reply (20%), react
    (15%) or join another channel (5%)."""

    def __init__(self, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.members, self.channels, self.kinds = array("H"), array("B"), array("B")
        for member in range(MEMBERS):
            self._add(member, rnd.randrange(CHANNELS), 0)
        for _ in range(EVENTS):
            member, channel, roll = rnd.randrange(MEMBERS), rnd.randrange(CHANNELS), rnd.random()
            kind = 0 if roll < 0.05 else 1 if roll < 0.65 else 2 if roll < 0.85 else 3
            self._add(member, channel, kind)

    def _add(self, member: int, channel: int, kind: int) -> None:
        self.members.append(member)
        self.channels.append(channel)
        self.kinds.append(kind)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return zip(self.members, self.channels, self.kinds, strict=True)

    def first_sights(self) -> Iterator[tuple[int, int, int]]:
        return itertools.islice(self, MEMBERS)

    def ordinary(self) -> Iterator[tuple[int, int, int]]:
        return itertools.islice(self, MEMBERS, None)


class Timings(NamedTuple):
    rate: float  # ordinary events per second
    count: int
    first_sight_ms: float  # per newcomer


async def through_core(url: str, history: Script) -> Timings:
    settings = Settings(_env_file=None, database_url=url)
    app = build(settings, schedule=False)
    tune_runtime()  # as `convener run` does
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 (opening /dev/null does not block)
        console = ConsoleAdapter(out=sink)
        app.add_platform(console)
        await app.start(migrate=False)
        with Timer() as first:
            await feed(app, console, history.first_sights())
        with Timer() as timer:
            count = await feed(app, console, history.ordinary())
        await app.close()
    return Timings(count / timer.seconds, count, first.seconds / MEMBERS * 1000)


async def feed(app, console: ConsoleAdapter, events: Iterator[tuple[int, int, int]]) -> int:
    """Submit the events as the console would, then wait until all are handled and stored."""
    count = 0
    for member_no, channel_no, kind in events:
        member, channel = f"m{member_no}", f"c{channel_no}"
        console.state.user = member
        console.state.where.setdefault(member, channel)
        if kind:
            console.state.where[member] = channel
        parsed = console.parse(LINES[kind].format(channel=channel_no))
        if isinstance(parsed, str):  # already in that channel: post instead
            parsed = console.parse("Thanks, that helps.")
        for event in parsed:
            await app.submit(event, key=event.channel.id)
            count += 1
    await app.processor.drain()
    await app.activity.flush()
    return count


def activity_rows(
    events: Iterator[tuple[int, int, int]], ts, start: int = 0
) -> Iterator[list[tuple]]:
    """The rows the core writes for the events, in batches of 2,000 (`asks`: a message
    ending with a question mark, as the core marks it); `start` numbers the event ids."""
    batch: list[tuple] = []
    asks = [
        kind == "message" and line.endswith("?") for kind, line in zip(KINDS, LINES, strict=True)
    ]
    for n, (member, channel, kind) in enumerate(events, start):
        batch.append(
            (ts, member + 1, channel + 1, KINDS[kind], "console", f"e{n}", f"m{n}", None,
             len(LINES[kind]), None, asks[kind])
        )  # fmt: skip
        if len(batch) >= 2000:
            yield batch
            batch = []
    if batch:
        yield batch


COLUMNS = (
    "ts, member_id, channel_id, kind, platform, event_id, message_id, thread_id, size, text, asks"
)
INSERT = f"INSERT INTO activity ({COLUMNS}) VALUES ({{}})"


def sqlite_baseline(path, history: Script) -> float:
    """Plain sqlite3 executemany of the same rows into the same schema, with the settings
    the core's connections have (`bot.db`: WAL, synchronous=NORMAL, a 32 MB page cache)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-32000")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = INSERT.format(",".join("?" * 11)) + " ON CONFLICT DO NOTHING"

    def write(batch: list[tuple]) -> None:
        db.executemany(sql, batch)
        db.commit()

    rate = ordinary_rate(history, now, write)
    db.close()
    return rate


def postgres_baseline(url: str, history: Script) -> float:
    """COPY of the same rows into the same schema with psycopg."""
    import psycopg

    now = datetime.now(UTC)
    with psycopg.connect(plain_dsn(url)) as conn:

        def write(batch: list[tuple]) -> None:
            with conn.cursor().copy(f"COPY activity ({COLUMNS}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            conn.commit()

        return ordinary_rate(history, now, write)


def ordinary_rate(history: Script, ts, write: Callable[[list[tuple]], None]) -> float:
    """Rows a second `write` stores for the ordinary events, once the first sights' rows
    are in (untimed), as the core is timed."""
    for batch in activity_rows(history.first_sights(), ts):
        write(batch)
    count = 0
    with Timer() as timer:
        for batch in activity_rows(history.ordinary(), ts, MEMBERS):
            write(batch)
            count += len(batch)
    return count / timer.seconds


def scale() -> str:
    return f"{EVENTS:,} events, {MEMBERS:,} members"


def first_sight_row(database: str, runs_ms: list[float]) -> Result:
    return Result(
        "ingest",
        f"first sight: a newcomer's first join ({MEMBERS:,} newcomers, {database})",
        median(runs_ms),
        "ms per newcomer (lower is better): member created, claim, onboarding opened, 2 DMs",
    )


def rate_row(database: str, core: float, base: float, baseline_name: str) -> Result:
    wanted = TARGETS[database]
    return Result(
        "ingest",
        f"events/s through the core ({scale()}, {database})",
        core,
        f"events/s (higher is better); baseline: {baseline_name}, same rows and schema",
        base,
        target=f"ratio >= {wanted}",
        met=core / base >= wanted,
    )


def remove(path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def main() -> None:
    history = Script()
    base_rates, core_runs = [], []
    for i in range(runs(1)):  # 200,000 events: about 40 s here
        _, path = fresh_sqlite(f"ingest-baseline-{i}")
        base_rates.append(sqlite_baseline(path, history))
        remove(path)
    for i in range(runs(1)):
        url, path = fresh_sqlite(f"ingest-core-{i}")
        core_runs.append(asyncio.run(through_core(url, history)))
        remove(path)
    results = [
        rate_row("SQLite", median([r.rate for r in core_runs]), median(base_rates),
                 "sqlite3 executemany"),
        first_sight_row("SQLite", [r.first_sight_ms for r in core_runs]),
    ]  # fmt: skip
    if postgres_server():
        base_rates, core_runs = [], []
        for _ in range(runs(1)):
            url = fresh_postgres("ingest")
            try:
                base_rates.append(postgres_baseline(url, history))
                truncate_postgres(url)
                core_runs.append(asyncio.run(through_core(url, history)))
            finally:
                drop_postgres(url)
        results += [
            rate_row("PostgreSQL", median([r.rate for r in core_runs]), median(base_rates),
                     "psycopg COPY"),
            first_sight_row("PostgreSQL", [r.first_sight_ms for r in core_runs]),
        ]  # fmt: skip
    peak = peak_rss_mb()
    where = "SQLite and PostgreSQL runs" if postgres_server() else "SQLite runs"
    results.append(
        Result("ingest", f"peak memory ({scale()}; {where})", peak, "MB (lower is better)",
               target="< 300 MB", met=peak < 300)
    )  # fmt: skip
    emit(results)


if __name__ == "__main__":
    main()
