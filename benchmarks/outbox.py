"""Outbox: notices through the sender (`bot.outbox`: claimed per row, sent, marked sent)
to a platform with no limit, against the same sends made directly as they were before the
outbox (`bot.direct.dm_member`: the member's account looked up, then sent), in one run, on
SQLite. While the notices flow, a member types `help` every 20 ms: the p99 of the time to
the reply shows whether replies wait behind a burst.

Size: 10,000 notices to 2,000 members (`BENCH_NOTICES`), 1,000 in quick mode."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import insert

from benchmarks.common import Result, Timer, emit, fresh_sqlite, median, percentile, runs, size
from benchmarks.latency import PLATFORM, Recorder, channel, member
from bot import outbox
from bot.cli import build
from bot.direct import dm_member
from bot.models import Identity, Member, Notice
from bot.settings import Settings
from bot.types import Message

NOTICES = size("BENCH_NOTICES", 10_000, 1_000)
MEMBERS = 2_000
TEXT = "⏰ Reminder: event #1, **Deep dive: property tax**, is in an hour."
REPLY_EVERY = 0.02  # seconds


async def seed(app, now) -> list[int]:
    async with app.db.sessions() as session:
        await session.execute(
            insert(Member),
            [{"id": n, "display_name": f"m{n}", "is_bot": False, "created_at": now,
              "is_away": False} for n in range(1, MEMBERS + 1)],
        )  # fmt: skip
        await session.execute(
            insert(Identity),
            [{"member_id": n, "platform": PLATFORM, "user_id": f"m{n}"}
             for n in range(1, MEMBERS + 1)],
        )  # fmt: skip
        await session.commit()
    return [1 + n % MEMBERS for n in range(NOTICES)]


async def queue(app, recipients: list[int], now) -> None:
    """The rows `outbox.dm` writes, written in bulk (queueing is not what is timed)."""
    rows = [
        {"subject": "bench:1", "kind": f"n{n}", "member_id": member_id, "state": "queued",
         "recipient": outbox.member_recipient(member_id), "platform": PLATFORM, "text": TEXT,
         "created_at": now, "due_at": now, "attempts": 0}
        for n, member_id in enumerate(recipients)
    ]  # fmt: skip
    async with app.db.sessions() as session:
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Notice), rows[start : start + 1000])
        await session.commit()


async def replies_while(app, recorder: Recorder, flowing: asyncio.Task) -> list[float]:
    """`help` from one member every `REPLY_EVERY` seconds until `flowing` ends: the times
    (ms) from the command to its reply."""
    latencies, n = [], 0
    while not flowing.done():
        n += 1
        user = member("asker")
        reply = recorder.expect(user)
        started = time.perf_counter()
        event = Message(f"help-{n}", user, channel("general"), app.clock(), "!help", f"h{n}")
        await app.submit(event, key=event.channel.id)
        latencies.append((await reply - started) * 1000)
        await asyncio.sleep(REPLY_EVERY)
    return latencies


async def through_outbox() -> tuple[float, float]:
    url, _ = fresh_sqlite("outbox-core")
    app = build(Settings(_env_file=None, database_url=url), schedule=False)
    recorder = Recorder()
    app.add_platform(recorder)
    await app.start(migrate=False)
    try:
        now = app.clock()
        await queue(app, await seed(app, now), now)
        with Timer() as timer:
            flowing = asyncio.create_task(app.outbox.deliver_all())
            latencies = await replies_while(app, recorder, flowing)
            sent = await flowing
        assert sent == NOTICES, sent
    finally:
        await app.close()
    return NOTICES / timer.seconds, percentile(latencies, 99)


async def directly() -> float:
    url, _ = fresh_sqlite("outbox-baseline")
    app = build(Settings(_env_file=None, database_url=url), schedule=False)
    app.add_platform(Recorder())
    await app.start(migrate=False)
    try:
        recipients = await seed(app, app.clock())
        services = app.services()
        with Timer() as timer:
            for member_id in recipients:
                assert await dm_member(services, member_id, TEXT, PLATFORM)
    finally:
        await app.close()
    return NOTICES / timer.seconds


def main() -> None:
    rates, p99s, bases = [], [], []
    for _ in range(runs(1)):
        bases.append(asyncio.run(directly()))
        rate, p99 = asyncio.run(through_outbox())
        rates.append(rate)
        p99s.append(p99)
    scale = f"{NOTICES:,} notices to {MEMBERS:,} members, SQLite"
    emit(
        [
            Result("outbox", f"notices/s through the sender ({scale})", median(rates),
                   "notices/s (higher is better); baseline: the same DMs sent directly "
                   "(account looked up, then sent)", median(bases)),
            Result("outbox", f"p99 of `help` while the notices flow ({scale})", median(p99s),
                   "ms (lower is better)", target="p99 < 1 s", met=median(p99s) < 1000),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
