"""The spine: one event's path through the core, and nothing lost or wedged under faults.

Each test here is a fault that once lost data or wedged the bot (see the spine issue); the
adapter-level ones live beside each adapter's tests.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from bot import activity as activity_module
from bot import normalise
from bot.cli import build
from bot.models import Activity, ActivityDeadLetter, HandledEvent, Identity, Member
from bot.processor import Processor
from bot.types import ChannelRef, Message, UserRef
from handlers.reports.build import write_report
from handlers.reports.period import parse_period


async def count(app, model=Activity, *where) -> int:
    async with app.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


# normalise ------------------------------------------------------------------------------


def test_normalise_drops_malformed_fields_and_cleans_names():
    user = UserRef("slack", "U1", "Mal\x1blory\x07")
    channel = ChannelRef("slack", "C1", "#general")
    raw = Message("e1", user, channel, _now(), "hi\x00 there", "1.1", {"a": 1})  # type: ignore[arg-type]
    event = normalise.event(raw)
    assert event is not None
    assert event.user.name == "Mallory" and event.text == "hi there" and event.thread_id is None
    long = replace(raw, user=UserRef("slack", "U1", "n" * 250), thread_id=None)
    assert normalise.event(long).user.name == "n" * 200
    assert normalise.event(replace(raw, event_id={"x": 1})) is None  # type: ignore[arg-type]
    assert normalise.event(replace(raw, user=UserRef("slack", ["U1"]))) is None  # type: ignore[arg-type]


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# activity: poisoned rows, long names, control characters ---------------------------------


async def test_a_poisoned_row_is_dead_lettered_and_the_rest_are_stored(bot):
    """A row that cannot be written (here an object no database column can hold where an id
    belongs; a Slack `thread_ts` was once an object) goes to the dead-letter table; the rows
    around it are stored and commands keep working."""
    log = bot.app.activity
    good = [await bot.say("alice", f"message {n}") for n in range(20)]
    poisoned = replace(good[0], event_id="poison", thread_id={"ts": object()})  # type: ignore[arg-type]
    log.record(poisoned, "reply")  # past the boundary on purpose: the last line of defence
    for n in range(1000):
        await bot.say("bob", f"after {n}")
    await log.flush()
    assert await count(bot.app, Activity) == 1020
    assert await count(bot.app, ActivityDeadLetter) == 1
    async with bot.app.db.sessions() as session:
        letter = await session.scalar(select(ActivityDeadLetter))
    assert letter.event_id == "poison" and letter.error
    await bot.say("alice", "!help")
    assert "help" in bot.last_reply_to("alice")


async def test_a_very_long_display_name_is_cut_not_wedging_the_log(bot):
    """A 250-character display name once failed every write on PostgreSQL."""
    user = bot.user("alice")
    message = Message(
        "long-1", replace(user, name="N" * 250), bot.channel(), bot.clock(), "hi", "m1"
    )
    await bot.app.handle(message)
    for n in range(50):
        await bot.say("bob", f"hello {n}")
    await bot.app.activity.flush()
    assert await count(bot.app, Activity) == 51
    async with bot.app.db.sessions() as session:
        names = (await session.scalars(select(Identity.display_name))).all()
    assert "N" * 200 in names


async def test_control_characters_in_names_never_break_the_report(bot):
    """A name stored with control characters (before the boundary cleaned them) once made
    `report` fail for everyone."""
    await bot.say("mallory", "hello")
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        await session.execute(update(Member).values(display_name="Mal\x1blory\x07"))
        await session.commit()
    period = parse_period([], bot.clock().date(), "UTC")
    buffer = io.BytesIO()
    write_report(bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone="UTC")
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    names = [row[0] for row in book["Members"].iter_rows(min_row=2, values_only=True)]
    assert "Mallory" in names


# activity: faults of the database ----------------------------------------------------------


async def test_a_failed_write_is_retried_before_the_delivery_is_acknowledged(bot, monkeypatch):
    """A write that fails once (the database was locked): the durable submit returns only
    once the row is stored, and nothing is lost or doubled."""
    log = bot.app.activity
    real = log._insert
    failures = {"left": 1}

    async def flaky(sql, rows):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        await real(sql, rows)

    monkeypatch.setattr(log, "_insert", flaky)
    event = Message("ev-1", bot.user("dana"), bot.channel(), bot.clock(), "hello", "m1")
    await bot.app.submit(event, durable=True)
    assert failures["left"] == 0
    assert await count(bot.app, Activity) == 1


async def test_a_failed_handler_gives_its_claim_back_for_the_redelivery(bot):
    """The claim was once taken outside the `try` that released it: the event was never
    handled again, even when delivered again."""
    command = Message("cmd-1", bot.user("dana"), bot.channel(), bot.clock(), "!help", "m1")
    bot.platform.fail_next = 1  # the reply cannot be sent
    await bot.app.handle(command)
    assert await count(bot.app, HandledEvent) == 0
    await bot.app.handle(command)  # delivered again
    assert await count(bot.app, HandledEvent) == 1
    assert any("help" in text for text in bot.replies_to("dana"))
    await bot.app.activity.flush()
    assert await count(bot.app, Activity) == 1


async def test_cancelling_the_claim_itself_gives_it_back(bot, monkeypatch):
    """Shutdown can cancel a handler while its claim is being written: the claim, taken by
    then, is given back so that the redelivery is handled."""
    command = Message("cmd-2", bot.user("dana"), bot.channel(), bot.clock(), "!help", "m2")
    real, started = bot.app.db.unit, asyncio.Event()

    async def unit(fn, *args):
        started.set()
        await asyncio.sleep(0)
        return await real(fn, *args)

    monkeypatch.setattr(bot.app.db, "unit", unit)
    task = asyncio.create_task(bot.app.handle(command))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await count(bot.app, HandledEvent) == 0
    assert not bot.replies_to("dana")
    await bot.app.handle(command)  # delivered again
    assert await count(bot.app, HandledEvent) == 1
    assert any("help" in text for text in bot.replies_to("dana"))


async def test_cancelling_a_flush_mid_write_puts_the_rows_back(bot, monkeypatch):
    log = bot.app.activity
    for n in range(10):
        await bot.say("alice", f"m{n}")
    real = log._insert
    started = asyncio.Event()

    async def slow(sql, rows):
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(log, "_insert", slow)
    task = asyncio.create_task(log.flush())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.setattr(log, "_insert", real)
    await log.close()
    assert await count(bot.app, Activity) == 10


async def test_the_member_cache_overflowing_loses_nothing(bot, monkeypatch):
    """The id caches once emptied themselves mid-batch (KeyError, batch retried forever)."""
    monkeypatch.setattr(activity_module, "KNOWN_LIMIT", 3)
    bot.app.activity._known_users = activity_module.Recent(3)
    for n in range(40):
        await bot.say(f"person{n}", "hello", channel=f"room{n % 7}")
    await bot.app.activity.flush()
    assert await count(bot.app, Activity) == 40


async def test_durable_submit_returns_only_once_stored(bot):
    app = bot.app
    events = [
        Message(f"d{n}", bot.user("alice"), bot.channel(), bot.clock(), f"m{n}", f"m{n}")
        for n in range(5)
    ]
    for event in events:
        await app.submit(event, durable=True)
        assert await count(app, Activity, Activity.event_id == event.event_id) == 1
    await app.submit(events[0], durable=True)  # a retried delivery: acknowledged, not added
    assert await count(app, Activity) == 5


async def test_the_processor_keeps_order_within_a_key_and_bounds_the_backlog():
    processor = Processor(concurrency=4, backlog=3)
    seen: list[tuple[str, int]] = []
    gate = asyncio.Event()

    def job(key: str, n: int):
        async def run():
            await gate.wait()
            seen.append((key, n))

        return run

    for n in range(3):
        await processor.submit(job("room", n), key="room")
    blocked = asyncio.create_task(processor.submit(job("other", 0), key="other"))
    await asyncio.sleep(0)
    assert not blocked.done()  # the backlog is full: intake waits
    gate.set()
    await blocked
    assert await processor.drain(timeout=5)
    assert [n for key, n in seen if key == "room"] == [0, 1, 2]


# start order -----------------------------------------------------------------------------


async def test_the_scheduler_starts_only_after_every_adapter_is_ready(settings):
    """The catch-up once posted before the Matrix adapter had logged in (a crash at start)."""
    order: list[str] = []
    app = build(settings)
    scheduled = asyncio.Event()

    async def fake_scheduler(_app):
        order.append("scheduler")
        scheduled.set()

        class Jobs:
            async def stop(self, grace: float) -> None:
                order.append("jobs stopped")

        return Jobs()

    app._start_scheduler = fake_scheduler
    app.add_platform(_SlowAdapter(order))
    from bot import cli

    task = asyncio.create_task(cli.run_app(app, list(app.platforms.values()), grace=1))
    await asyncio.wait_for(scheduled.wait(), 10)
    app.platforms["console"].finish.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert order == ["started", "ready", "scheduler", "stopped", "jobs stopped", "closed"]


class _SlowAdapter:
    """An adapter that becomes ready only after a moment, and ends when told to."""

    name = "console"
    bot_user = UserRef("console", "convener", "convener", True)

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.finish = asyncio.Event()
        self.is_ready = asyncio.Event()

    async def start(self, intake) -> None:
        self.order.append("started")
        asyncio.get_running_loop().call_soon(self.is_ready.set)

    async def ready(self) -> None:
        await self.is_ready.wait()
        self.order.append("ready")

    async def wait_closed(self) -> None:
        await self.finish.wait()

    async def stop(self, grace: float) -> None:
        self.order.append("stopped")

    async def close(self) -> None:
        self.order.append("closed")
