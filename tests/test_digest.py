"""The facilitators' weekly digest, on every platform name: its content, the `digest`
command, once a week across restarts, the grace period, failures given back, and the
settings that turn it off or cannot be read."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import schedules
from bot import members, outbox
from bot.i18n import render, verbatim
from bot.models import DigestRun, PromptRun, Question
from handlers.digest import jobs, service
from tests.harness import BotHarness


def at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


# The harness clock starts on Monday 2 March 2026, 09:00 UTC: an hour after the default
# digest slot (Monday 08:00, community time UTC).
NOW = at(2)


async def community(bot: BotHarness) -> None:
    """Two weeks of a small community, seen from Monday 2 March 09:00 UTC."""
    bot.clock.now = at(16, month=2)
    await bot.say("fac", "hello")
    for name in ("olga", "dana", "erin"):
        await bot.join(name)
    await bot.say("olga", "Hello from Nairobi")
    old = await bot.say("fac", "Any revenue forecasting tips?")
    await bot.react("erin", "eyes", old.message_id)  # a reaction is posting: erin is not silent
    bot.clock.now = at(26, month=2)
    for name in ("alice", "bob"):
        await bot.join(name)  # new this week; bob never posts
        bot.clock.advance(hours=1)
    await bot.say("alice", "Hi all", channel="budgeting")
    await bot.say("alice", "Our budget calendar", channel="budgeting")
    await bot.say("olga", "Nice", channel="budgeting", thread_id="in-x")
    await bot.say("olga", "Welcome alice")
    await bot.say("alice", "Thanks", thread_id="P1")  # a reply to this week's prompt
    await bot.say("olga", "We use rolling forecasts", thread_id="P1")
    await bot.say("olga", "And scenarios", thread_id="P1")
    bot.clock.now = NOW
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        general = await members.resolve_channel(session, bot.channel("general"))
        olga = await members.resolve(session, bot.user("olga"))
        alice = await members.resolve(session, bot.user("alice"))
        session.add_all(
            [
                Question(
                    asker_id=olga.id, channel_id=general.id, message_id="Q1",
                    text="How do you phase a property revaluation?", asked_at=at(27, month=2),
                ),  # open, unanswered, past the 24 h SLA
                Question(
                    asker_id=alice.id, channel_id=general.id, message_id="Q2",
                    text="Answered already?", asked_at=at(26, month=2),
                    first_response_at=at(26, 12, month=2),
                ),
                Question(
                    asker_id=alice.id, channel_id=general.id, message_id="Q3",
                    text="Asked an hour ago?", asked_at=at(2, 8),
                ),
                PromptRun(
                    channel_id=general.id, message_id="P1",
                    text="How do you forecast revenue in a volatile year?",
                    posted_at=at(25, month=2),
                ),
                PromptRun(
                    channel_id=general.id, message_id="P0", text="Last month's prompt",
                    posted_at=at(2, month=2),
                ),
            ]
        )  # fmt: skip
        await session.commit()


def section(text: str, title: str) -> str:
    """The lines of one section of the digest, from its title to the next."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"**{title}"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("**")), len(lines))
    return "\n".join(lines[start:end])


async def digests_to(bot: BotHarness, name: str) -> list[str]:
    return [text for text in bot.replies_to(name) if text.startswith("**Weekly digest**")]


async def claims(bot: BotHarness) -> int:
    async with bot.app.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(DigestRun))


# content ----------------------------------------------------------------------------------


async def test_the_digest_covers_the_week(bot):
    await community(bot)
    text = render(await service.build(bot.app.services(), NOW), "en")
    assert text.startswith(
        "**Weekly digest** for Municipal Finance Practice: Mon 23 Feb to Mon 2 Mar"
    )
    assert section(text, "New members") == "**New members (2):** bob, alice"
    assert section(text, "Joined over a week ago") == (
        "**Joined over a week ago, not posted yet (1):** dana"
    )
    overdue = section(text, "Open questions")
    assert overdue.startswith("**Open questions past their 24 h SLA (1):**")
    assert "#1 · olga · 3 days — How do you phase a property revaluation?" in overdue
    assert "#2" not in overdue and "#3" not in overdue
    prompts = section(text, "Prompts")
    assert prompts.startswith("**Prompts this week (1):**")
    assert "Wed 25 Feb in #general · 3 replies from 2 members" in prompts
    assert "Last month" not in prompts
    busiest = section(text, "Busiest channels").splitlines()
    assert busiest[1] == "• #general · 1 message, 3 replies · 2 members active"
    assert busiest[2] == "• #budgeting · 2 messages, 1 reply · 2 members active"
    assert len(busiest) == 3


async def test_empty_sections_say_so(bot):
    text = render(await service.build(bot.app.services(), NOW), "en")
    assert "**New members:** none this week." in text
    assert "**Joined over a week ago, not posted yet:** nobody." in text
    assert "**Open questions past their 24 h SLA:** none." in text
    assert "**Prompts this week:** none posted." in text
    assert "**Busiest channels:** no posts this week." in text


async def test_names_are_capped(bot):
    bot.clock.now = NOW - timedelta(hours=1)
    for i in range(13):
        await bot.join(f"member{i:02d}")
    text = render(await service.build(bot.app.services(), NOW), "en")
    line = section(text, "New members")
    assert line.startswith("**New members (13):** ") and line.endswith(" and 3 more")
    assert line.count(", ") == 9


# the command ------------------------------------------------------------------------------


async def test_digest_command_for_facilitators_only(bot):
    await community(bot)
    await bot.say("fac", "!digest")
    reply = bot.last_reply_to("fac")
    assert reply.startswith("**Weekly digest**") and "**New members (2):** bob, alice" in reply
    assert not any(s.private_to is None and "Weekly digest" in s.text for s in bot.platform.sent)
    await bot.say("olga", "!digest")
    assert bot.last_reply_to("olga") == "Only facilitators can use `digest`."


# once a week ------------------------------------------------------------------------------


async def send_weekly(bot: BotHarness) -> int:
    queued = await jobs.send_weekly(bot.app.services())
    await bot.deliver()
    return queued


async def catch_up(bot: BotHarness) -> int:
    queued = await jobs.catch_up(bot.app.services())
    await bot.deliver()
    return queued


async def test_sent_once_a_week_across_restarts(bot):
    await community(bot)
    await bot.say("fac", f"!role grant {bot.mention('olga')} facilitator")
    bot.clear()
    assert await send_weekly(bot) == 2
    assert await send_weekly(bot) == 0
    assert len(await digests_to(bot, "fac")) == 1 and len(await digests_to(bot, "olga")) == 1
    assert await digests_to(bot, "alice") == []

    restarted = await BotHarness(bot.platform_name, bot.settings, bot.clock).start()
    try:
        assert await jobs.catch_up(restarted.app.services()) == 0
        assert restarted.platform.sent == []
    finally:
        await restarted.close()

    bot.clock.advance(days=7)  # next Monday, 09:00: next week's slot
    assert await send_weekly(bot) == 2
    assert len(await digests_to(bot, "fac")) == 2
    assert await claims(bot) == 4


async def test_a_slot_past_the_grace_is_not_sent(bot):
    await bot.say("fac", "hello")
    bot.clock.now = NOW.replace(hour=14, minute=1)  # 6 h 1 min after Monday 08:00 (grace: 6 h)
    assert await catch_up(bot) == 0
    assert await digests_to(bot, "fac") == [] and await claims(bot) == 0
    bot.clock.now = at(2, 13)  # within the grace: a restart catches up
    assert await catch_up(bot) == 1


async def test_a_failed_send_is_tried_again_and_sent_once(bot):
    await bot.say("fac", "hello")
    bot.platform.fail_next = 1
    assert await send_weekly(bot) == 1  # queued; the platform refused it
    assert await digests_to(bot, "fac") == [] and await claims(bot) == 1
    assert await send_weekly(bot) == 0  # not queued twice
    bot.clock.advance(seconds=outbox.FIRST_BACKOFF_SECONDS)
    assert await bot.deliver() == 1
    assert len(await digests_to(bot, "fac")) == 1


async def test_a_send_cut_short_by_shutdown_goes_at_the_next_start(bot, monkeypatch):
    await bot.say("fac", "hello")

    async def cancelled(*args, **kwargs):
        raise asyncio.CancelledError

    assert await jobs.send_weekly(bot.app.services()) == 1
    with monkeypatch.context() as patch:
        patch.setattr(bot.platform, "send_dm", cancelled)
        with pytest.raises(asyncio.CancelledError):
            await bot.deliver()
    assert await digests_to(bot, "fac") == []
    assert await bot.deliver() == 1
    assert len(await digests_to(bot, "fac")) == 1


async def test_off_sends_nothing(bot):
    await bot.say("fac", "hello")
    bot.app.settings.digest_weekday = "off"
    assert await send_weekly(bot) == 0
    assert await digests_to(bot, "fac") == []


# registering the job ----------------------------------------------------------------------


def digest_job(bot):
    return next(job for job in bot.app.router.jobs if job.id == "digest")


async def test_the_job_is_registered_at_the_configured_time(bot):
    bot.app.settings.digest_weekday = "Fri"
    bot.app.settings.digest_time = "7:30"
    bot.app.settings.timezone = "Africa/Nairobi"
    scheduler = schedules.Scheduler(bot.app)
    assert scheduler.declare(digest_job(bot)) is True
    job = scheduler.get_job("digest")
    assert job.args[1] is jobs.run
    trigger = job.trigger
    assert str(trigger.timezone) == "Africa/Nairobi"
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("fri", "7", "30")
    assert job.misfire_grace_time == 6 * 3600


async def test_off_registers_nothing(bot):
    bot.app.settings.digest_weekday = "OFF"
    scheduler = schedules.Scheduler(bot.app)
    assert scheduler.declare(digest_job(bot)) is False
    assert scheduler.get_job("digest") is None


@pytest.mark.parametrize(
    ("weekday", "time_"), [("funday", "08:00"), ("monday", "25:00"), ("", "8")]
)
async def test_malformed_settings_are_logged_and_register_nothing(bot, caplog, weekday, time_):
    bot.app.settings.digest_weekday = weekday
    bot.app.settings.digest_time = time_
    scheduler = schedules.Scheduler(bot.app)
    with caplog.at_level(logging.ERROR, logger="schedules"):
        assert scheduler.declare(digest_job(bot)) is False
    assert scheduler.aps.get_jobs() == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "weekly digest: CONVENER_DIGEST_WEEKDAY" in errors[0].getMessage()
    await bot.say("fac", "hello")
    assert await send_weekly(bot) == 0  # and nothing breaks


async def test_the_scheduler_registers_and_catches_up(bot):
    await bot.say("fac", "hello")
    scheduler = await schedules.start_scheduler(bot.app, jobs=bot.app.router.jobs)
    try:
        assert scheduler.get_job("digest") is not None
        assert await bot.deliver() == 1
        assert len(await digests_to(bot, "fac")) == 1  # the slot an hour ago, caught up
    finally:
        scheduler.shutdown(wait=False)


async def test_a_failing_digest_does_not_stop_the_scheduler(bot, monkeypatch, caplog):
    async def broken(ctx):
        raise RuntimeError("database is away")

    declared = [
        replace(job, func=broken) if job.id == "digest-catch-up" else job
        for job in bot.app.router.jobs
    ]
    bot.app.settings.digest_time = "nine"
    with caplog.at_level(logging.ERROR):
        scheduler = await schedules.start_scheduler(bot.app, jobs=declared)
    try:
        assert scheduler.get_job("digest") is None
        assert scheduler.get_job("questions") is not None
        assert scheduler.aps.running
        assert any("catch-up digest-catch-up failed" in r.getMessage() for r in caplog.records)
    finally:
        scheduler.shutdown(wait=False)


async def test_the_digest_command_takes_no_words(bot):
    await bot.say("fac", "!digest now")
    assert bot.last_reply_to("fac") == "Just `digest`.\nUsage: `digest`"
    await bot.say("fac", "!digest")
    assert bot.last_reply_to("fac").startswith("**Weekly digest**")


async def test_notices_that_could_not_be_delivered_are_told(bot):
    """A DM the platform refused for good this week is in the digest, with why; none, no
    section."""
    from bot import outbox
    from bot.platform import Undeliverable

    bot.clock.now = NOW - timedelta(days=1)
    await bot.join("kofi")
    await bot.dm("kofi", "stop")
    async with bot.app.db.sessions() as session:
        from bot import members

        kofi = (await members.find(session, bot.user("kofi"))).id
    assert "could not deliver" not in render(await service.build(bot.app.services(), NOW), "en")
    bot.platform.errors = [Undeliverable("the account is deactivated")]
    await outbox.dm(bot.app.services(), "event:7", "start", kofi, verbatim("Starting now"))
    await bot.deliver()
    text = render(await service.build(bot.app.services(), NOW), "en")
    assert section(text, "Notices I could not deliver") == (
        "**Notices I could not deliver (1):**\n"
        "• event #7 (start) to kofi: the account is deactivated"
    )
