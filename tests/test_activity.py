"""The activity log: once per platform event id, in batches, flushed on shutdown."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from adapters.console import ConsoleAdapter
from bot.cli import build
from bot.models import Activity, HandledEvent, Member
from tests.harness import BotHarness


async def _count(app, *where) -> int:
    async with app.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Activity).where(*where))


async def test_same_event_twice_is_logged_and_handled_once(bot):
    message = await bot.say("alice", "!help")
    await bot.app.handle(message)
    await bot.app.activity.flush()
    assert await _count(bot.app) == 1
    assert len(bot.replies_to("alice")) == 1


async def test_redelivery_after_restart_and_on_a_second_replica(platform_name, settings, clock):
    first = await BotHarness(platform_name, settings, clock).start()
    message = await first.say("alice", "!help")
    join = await first.join("bob")
    await first.close()
    async with first.app.db.sessions() as session:
        claimed = await session.scalar(select(func.count()).select_from(HandledEvent))
    for _ in range(2):  # a restarted process, then a second replica on the same database
        again = await BotHarness(platform_name, settings, clock).start()
        await again.app.handle(message)
        await again.app.handle(join)
        assert again.platform.sent == []
        await again.close()
    check = build(settings, schedule=False)
    assert await _count(check) == 2
    async with check.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HandledEvent)) == claimed
    await check.db.dispose()


async def test_activity_is_batched_and_flushed_on_close(bot):
    for i in range(30):
        await bot.say(f"m{i % 5}", f"message number {i}")
    assert await _count(bot.app) == 0  # buffered, not one transaction per event
    await bot.app.activity.flush()
    assert await _count(bot.app) == 30
    assert await _count(bot.app, Activity.text.is_not(None)) == 0  # metadata only by default
    assert await _count(bot.app, Activity.size == len("message number 10")) == 20


async def test_kinds_and_threads(bot):
    root = await bot.say("alice", "Anyone tried participatory budgeting?")
    await bot.say("bob", "Yes, in Seoul", thread_id=root.message_id)
    await bot.react("carol", "+1", root.message_id)
    await bot.join("dana", "finance")
    await bot.leave("dana", "finance")
    await bot.dm("erin", "hello bot")
    await bot.say("fac", "!help")
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        kinds = sorted(await session.scalars(select(Activity.kind)))
        reply = await session.scalar(select(Activity).where(Activity.kind == "reply"))
        members = await session.scalar(select(func.count()).select_from(Member))
    assert kinds == ["command", "direct", "join", "leave", "message", "reaction", "reply"]
    assert reply.thread_id == root.message_id
    assert members == 6


async def test_message_text_is_kept_only_when_configured(platform_name, settings, clock):
    settings = settings.model_copy(update={"store_message_text": True})
    harness = await BotHarness(platform_name, settings, clock).start()
    await harness.say("alice", "kept")
    await harness.close()
    check = build(settings, schedule=False)
    assert await _count(check, Activity.text == "kept") == 1
    await check.db.dispose()


async def test_console_events_logged_once(settings, tmp_path):
    app = build(settings, schedule=False)
    out = io.StringIO()
    console = ConsoleAdapter(out=out, files_dir=tmp_path)
    app.add_platform(console)
    await app.start(migrate=False)
    script = "/as alice\nhello\n/reply welcome\n/react tada\n/join #budget\n!help\n/dm hi\n"
    await console.run(app, io.StringIO(script))
    events = console.parse("late message")
    await app.handle(events[0])
    await app.handle(events[0])
    await app.close()
    check = build(settings, schedule=False)
    async with check.db.sessions() as session:
        rows = (await session.execute(select(Activity.kind, Activity.event_id))).all()
    await check.db.dispose()
    assert sorted(k for k, _ in rows) == sorted(
        ["join", "message", "reply", "reaction", "join", "command", "direct", "message"]
    )
    assert len({e for _, e in rows}) == len(rows)
