"""Weekly prompt schedules: slots, once-only posting, catching up after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot import members, outbox
from bot.models import Prompt, PromptRun, PromptSchedule
from handlers.prompts import jobs as prompt_jobs
from handlers.prompts import service as prompts


def _schedule(weekday: int, at: str, tz: str, created: datetime) -> PromptSchedule:
    return PromptSchedule(
        id=1, channel_id=1, weekday=weekday, time_of_day=at, timezone=tz, created_at=created
    )


def test_last_slot_respects_weekday_and_timezone():
    created = datetime(2026, 1, 1, tzinfo=UTC)
    monday_nairobi = _schedule(0, "09:00", "Africa/Nairobi", created)  # 06:00 UTC
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
    assert prompts.last_slot(monday_nairobi, now) == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    at_slot = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert prompts.last_slot(monday_nairobi, at_slot) == at_slot
    just_before = at_slot - timedelta(seconds=1)
    assert prompts.last_slot(monday_nairobi, just_before) == at_slot - timedelta(days=7)
    sunday_late_seoul = _schedule(6, "23:30", "Asia/Seoul", created)  # Sunday 14:30 UTC
    assert prompts.last_slot(sunday_late_seoul, now) == datetime(2026, 3, 1, 14, 30, tzinfo=UTC)


async def _setup(bot, queued: int = 2) -> int:
    async with bot.app.db.sessions() as session:
        channel = await members.resolve_channel(session, bot.channel("general"))
        for i in range(queued):
            session.add(
                Prompt(text=f"Prompt {i + 1}: how do you forecast revenue?", created_at=bot.clock())
            )
        schedule = PromptSchedule(
            channel_id=channel.id,
            weekday=bot.clock().weekday(),
            time_of_day="09:00",
            timezone="UTC",
            created_at=bot.clock() - timedelta(days=30),
        )
        session.add(schedule)
        await session.commit()
        return schedule.id


async def test_a_slot_is_posted_once(bot):
    schedule_id = await _setup(bot)
    slot = bot.clock().replace(hour=9, minute=0)
    first = await prompts.post_slot(bot.app.services(), schedule_id, slot)
    again = await prompts.post_slot(bot.app.services(), schedule_id, slot)
    assert first is not None and again is None
    await bot.deliver()
    assert [p.text for p in bot.posts_in("general")] == ["Prompt 1: how do you forecast revenue?"]
    async with bot.app.db.sessions() as session:
        run = await session.scalar(select(PromptRun))
        assert run.message_id == bot.posts_in("general")[0].message_id


async def test_catch_up_posts_recent_missed_slot_only(bot):
    await _setup(bot)
    bot.clock.advance(hours=2)  # 11:00, the 09:00 slot was missed two hours ago
    assert await prompt_jobs.catch_up(bot.app.services()) == 1
    assert await prompt_jobs.catch_up(bot.app.services()) == 0  # not twice
    bot.clock.advance(days=7, hours=7)  # next week's slot missed by nine hours > grace
    assert await prompt_jobs.catch_up(bot.app.services()) == 0
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PromptRun)) == 1


async def test_empty_queue_posts_nothing(bot):
    schedule_id = await _setup(bot, queued=0)
    assert await prompts.post_slot(bot.app.services(), schedule_id, bot.clock()) is None
    assert bot.posts_in("general") == []


async def test_a_failed_post_is_tried_again_and_posted_once(bot):
    schedule_id = await _setup(bot)
    bot.platform.fail_next = 1
    slot = bot.clock().replace(hour=9, minute=0)
    assert await prompts.post_slot(bot.app.services(), schedule_id, slot) is not None
    assert await bot.deliver() == 1 and bot.posts_in("general") == []  # refused
    assert await prompts.post_slot(bot.app.services(), schedule_id, slot) is None
    bot.clock.advance(seconds=outbox.FIRST_BACKOFF_SECONDS)
    assert await bot.deliver() == 1
    assert [p.text for p in bot.posts_in("general")] == ["Prompt 1: how do you forecast revenue?"]
