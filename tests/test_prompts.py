"""Prompt commands and posting, on every platform name: the queue and its rotation, weekly
schedules at the right local time across daylight saving, exactly once across restarts,
replicas and shutdown, an empty queue, and bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import timezones as when
from bot.models import PromptRun, PromptSchedule
from handlers.prompts import jobs as prompt_jobs
from handlers.prompts import service as prompts
from handlers.reports.period import parse_period
from handlers.reports.queries import prompt_figures
from schedules import Scheduler
from tests.harness import BotHarness

REVENUE = "What is one revenue idea your city tried this year?"


async def queue(bot: BotHarness, *texts: str) -> None:
    for text in texts:
        await bot.say("fac", f"!prompt add {text}")
    bot.clear()


async def schedule_rows(bot: BotHarness) -> list[PromptSchedule]:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(PromptSchedule))).all())


async def runs(bot: BotHarness) -> list[PromptRun]:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(PromptRun).order_by(PromptRun.id))).all())


def posted(bot: BotHarness, channel: str = "general") -> list[str]:
    return [s.text for s in bot.posts_in(channel)]


# the queue --------------------------------------------------------------------------------


async def test_add_list_and_remove(bot):
    await bot.say("fac", f"!prompt add {REVENUE}")
    assert bot.last_reply_to("fac").startswith("Added prompt #1")
    await bot.say("fac", "!prompt add How do you publish the budget?")
    await bot.say("fac", "!prompt list")
    listing = bot.last_reply_to("fac")
    assert listing.index("#1") < listing.index("#2") and "never posted" in listing
    await bot.say("fac", "!prompt remove 1")
    assert "Removed prompt #1" in bot.last_reply_to("fac")
    await bot.say("fac", "!prompt remove 1")
    assert "There is no prompt #1" in bot.last_reply_to("fac")


async def test_prompt_now_posts_here_and_rotates_through_the_queue(bot):
    await queue(bot, "First?", "Second?", "Third?")
    for _ in range(4):
        await bot.say("fac", "!prompt now")
        bot.clock.advance(days=1)
    assert posted(bot) == ["First?", "Second?", "Third?", "First?"]  # least recently used again
    await bot.say("fac", "!prompt list")
    listing = bot.last_reply_to("fac")
    assert listing.index("Second?") < listing.index("Third?") < listing.index("First?")


async def test_prompt_now_with_an_empty_queue_says_so(bot):
    await bot.say("fac", "!prompt now")
    assert "queue is empty" in bot.last_reply_to("fac")
    assert posted(bot) == []


# schedules --------------------------------------------------------------------------------


async def test_schedule_list_and_unschedule(bot):
    await bot.say("fac", "!prompt schedule MON 09:00 africa/nairobi")
    answer = bot.last_reply_to("fac")
    assert "Scheduled #1" in answer and "Monday at 09:00 (Africa/Nairobi)" in answer
    assert (
        "Mon 09 Mar 2026 09:00 Africa/Nairobi (06:00 UTC)" in answer
    )  # clock: Mon 2 Mar 09:00 UTC
    await bot.say("fac", "!prompt schedule friday 16:30", channel="budgets")
    assert "Friday at 16:30 (UTC)" in bot.last_reply_to("fac")  # the community timezone
    await bot.say("fac", "!prompt schedules")
    listing = bot.last_reply_to("fac")
    assert "#1 · #general" in listing and "#2 · #budgets" in listing
    await bot.say("fac", "!prompt unschedule 1")
    assert "Stopped schedule #1" in bot.last_reply_to("fac")
    await bot.say("fac", "!prompt schedules")
    assert "#1 ·" not in bot.last_reply_to("fac")
    await bot.say("fac", "!prompt unschedule 1")
    assert "There is no schedule #1" in bot.last_reply_to("fac")


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("!prompt schedule Funday 09:00", "`Funday` is not a weekday"),
        ("!prompt schedule monday 25:00", "`25:00` is not a time"),
        ("!prompt schedule monday 9am", "`9am` is not a time"),
        ("!prompt schedule monday 09:00 Mars/Olympus", "is not a timezone I know"),
        ("!prompt schedule monday", "Usage"),
        ("!prompt unschedule 42", "There is no schedule #42"),
        ("!prompt unschedule soon", "is not a schedule number"),
        ("!prompt remove x", "is not a prompt number"),
        ("!prompt add", "What should the prompt ask?"),
        ("!prompt add " + "x" * 2000, "too long"),
    ],
)
async def test_bad_input_gets_a_short_answer_and_changes_nothing(bot, command, answer):
    await bot.say("fac", command)
    reply = bot.last_reply_to("fac")
    assert answer in reply and len(reply) < 400
    assert await schedule_rows(bot) == []
    assert posted(bot) == []


async def test_scheduling_needs_a_channel(bot):
    await bot.dm("fac", "prompt schedule monday 09:00")
    assert "in the channel where the prompts should go" in bot.last_reply_to("fac")
    await bot.dm("fac", "prompt now")
    assert "in the channel where the prompts should go" in bot.last_reply_to("fac")


@pytest.mark.parametrize(
    "command",
    ["prompt add Hi?", "prompt list", "prompt remove 1", "prompt schedule mon 09:00",
     "prompt schedules", "prompt unschedule 1", "prompt now"],
)  # fmt: skip
async def test_members_cannot_use_the_facilitator_prompt_commands(bot, command):
    await bot.say("lena", f"!{command}")
    name = " ".join(command.split()[:2])
    assert bot.last_reply_to("lena") == f"Only facilitators can use `{name}`."
    assert await schedule_rows(bot) == [] and posted(bot) == []


# time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Berlin, Mondays 09:00: CET (UTC+1) before 29 March 2026, CEST (UTC+2) after,
        # CET again after 25 October 2026.
        (datetime(2026, 3, 23, 12, 0, tzinfo=UTC), datetime(2026, 3, 23, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 30, 12, 0, tzinfo=UTC), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),
        (datetime(2026, 10, 19, 12, 0, tzinfo=UTC), datetime(2026, 10, 19, 7, 0, tzinfo=UTC)),
        (datetime(2026, 10, 26, 12, 0, tzinfo=UTC), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),
    ],
)
def test_nine_local_stays_nine_local_across_daylight_saving(now, expected):
    assert when.last_slot(0, "09:00", "Europe/Berlin", now) == expected
    trigger = Scheduler()._trigger((0, "09:00", "Europe/Berlin"))
    fired = trigger.get_next_fire_time(None, expected - timedelta(days=6))
    assert fired == expected


async def test_sync_registers_new_schedules_and_posts_a_slot_already_due(bot):
    await queue(bot, REVENUE)
    await bot.say("fac", "!prompt schedule monday 09:01")  # now: Monday 09:00 UTC
    scheduler = Scheduler(bot.app)
    assert await prompt_jobs.sync(scheduler.context()) == 0  # registered; not due yet
    assert scheduler.get_job(prompt_jobs.job_id(1)) is not None
    bot.clock.advance(minutes=2)  # the job was registered too late to fire: sync posts it
    assert await prompt_jobs.sync(scheduler.context()) == 1
    assert scheduler.get_job(prompt_jobs.job_id(1)) is not None
    assert await prompt_jobs.sync(scheduler.context()) == 0
    await bot.deliver()
    assert posted(bot) == [REVENUE]
    await bot.say("fac", "!prompt unschedule 1")
    await prompt_jobs.sync(scheduler.context())
    assert scheduler.get_job(prompt_jobs.job_id(1)) is None


async def test_a_restart_inside_the_grace_posts_the_missed_slot_once(bot, settings, clock):
    await queue(bot, REVENUE, "Second?")
    await bot.say("fac", "!prompt schedule monday 10:00")
    await bot.close()
    clock.advance(hours=3)  # down from 09:00 to 12:00: the 10:00 slot was missed
    again = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        assert await prompt_jobs.catch_up(again.app.services()) == 1
        assert await prompt_jobs.catch_up(again.app.services()) == 0
        clock.advance(days=7, hours=6)  # next week, 8 hours late: past the 6-hour grace
        assert await prompt_jobs.catch_up(again.app.services()) == 0
        await again.deliver()
        assert [s.text for s in again.posts_in()] == [REVENUE]
    finally:
        await again.close()
    bot.app = again.app  # closed; the fixture's close is harmless


async def test_two_processes_post_a_slot_once(bot, settings, clock):
    await queue(bot, REVENUE, "Second?")
    await bot.say("fac", "!prompt schedule monday 09:00")
    other = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        slot = clock()
        runs = await asyncio.gather(
            prompts.post_slot(bot.app.services(), 1, slot),
            prompts.post_slot(other.app.services(), 1, slot),
        )
        assert sum(run is not None for run in runs) == 1
        await asyncio.gather(bot.deliver(), other.deliver())
        assert len(posted(bot)) + len([s for s in other.posts_in()]) == 1
    finally:
        await other.close()


async def test_shutdown_mid_post_posts_it_once_at_the_next_start(bot):
    await queue(bot, REVENUE)
    await bot.say("fac", "!prompt schedule monday 09:00")
    gate, sending = asyncio.Event(), asyncio.Event()
    real = bot.platform.send

    async def stuck(*args, **kwargs):
        sending.set()
        await gate.wait()
        return await real(*args, **kwargs)

    assert await prompts.post_slot(bot.app.services(), 1, bot.clock()) is not None
    bot.platform.send = stuck
    task = asyncio.create_task(bot.deliver())
    await sending.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    bot.platform.send = real
    assert await prompts.post_slot(bot.app.services(), 1, bot.clock()) is None  # slot taken
    assert await bot.deliver() == 1
    assert posted(bot) == [REVENUE]
    [run] = await runs(bot)
    assert run.message_id == bot.posts_in()[-1].message_id


async def test_an_empty_queue_at_a_slot_tells_the_facilitators_once(bot):
    await bot.say("fac", "!prompt schedule monday 09:00")
    bot.clear()
    assert await prompts.post_slot(bot.app.services(), 1, bot.clock()) is None
    assert await prompts.post_slot(bot.app.services(), 1, bot.clock()) is None
    await bot.deliver()
    told = [t for t in bot.replies_to("fac") if "queue is empty" in t]
    assert len(told) == 1 and "#general" in told[0]
    assert posted(bot) == []


async def test_a_reply_in_the_prompts_thread_is_a_response(bot):
    await queue(bot, REVENUE)
    await bot.say("fac", "!prompt schedule monday 09:00")
    await prompts.post_slot(bot.app.services(), 1, bot.clock())
    await bot.deliver()
    [run] = await runs(bot)
    await bot.say("lena", "We tried a tourism levy.", thread_id=run.message_id)
    await bot.say("kofi", "Parking fees.", thread_id=run.message_id)
    await bot.say("kofi", "Unrelated.")
    await bot.app.activity.flush()
    async with bot.app.db.engine.connect() as conn:
        period = parse_period(["2026-03-01", "2026-03-07"], bot.clock().date(), "UTC")
        figures = await conn.run_sync(prompt_figures, period)
    assert figures["responses"] == 2 and figures["responders"] == 2
    async with bot.app.db.sessions() as session:
        assert (await session.scalar(select(PromptRun))).message_id == run.message_id
