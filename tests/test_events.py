"""Learning events, on every platform name: announcing with buttons (one choice, that a
platform may draw as a poll), RSVPs by command and by reaction, listing, reminders a day and an
hour before and the start post, each exactly once across restarts and two processes, the
choice closed at the start or the cancellation once, cancelling, attendees, and bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot import outbox
from bot.cli import build
from bot.i18n import verbatim
from bot.models import Event, EventRsvp, Notice
from bot.types import Action
from handlers.events import jobs, service
from tests.harness import BotHarness

# the clock starts on Mon 2 Mar 2026 09:00 UTC; Nairobi is UTC+3
ADD = '!event add 2026-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'
WHEN = "Thu 05 Mar 2026 18:00 Africa/Nairobi (15:00 UTC)"


async def announce(bot: BotHarness, command: str = ADD, channel: str = "general"):
    await bot.say("fac", command, channel=channel)
    post = posted(bot, channel)
    bot.clear()
    return post


async def remind(bot: BotHarness) -> int:
    queued = await jobs.remind(bot.app.services())
    await bot.deliver()
    return queued


def said_to(bot: BotHarness, name: str) -> str | None:
    """The last message to a member, calendar files aside (`rsvp` yes or maybe sends one)."""
    user = bot.user(name)
    said = [s.text for s in bot.platform.sent if s.private_to == user and s.file is None]
    return said[-1] if said else None


def posted(bot: BotHarness, channel: str = "general"):
    """The last post in a channel, calendar files aside (an announcement's comes after it)."""
    return [post for post in bot.posts_in(channel) if post.file is None][-1]


def notices(bot: BotHarness, name: str, word: str) -> list[str]:
    return [text for text in bot.replies_to(name) if word in text]


async def rsvps(bot: BotHarness) -> dict[str, str]:
    async with bot.app.db.sessions() as session:
        rows = (await session.scalars(select(EventRsvp))).all()
    return {str(r.member_id): r.answer for r in rows}


async def events(bot: BotHarness) -> list[Event]:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(Event))).all())


# announcing -----------------------------------------------------------------------------


async def test_add_announces_in_the_channel_with_buttons_on_slack(bot):
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", ADD + " : budgeting", channel="events")
    post = posted(bot, "events")
    assert "Event #1: Deep dive: property tax" in post.text
    assert WHEN in post.text and "Topics: budgeting" in post.text
    assert "`rsvp 1`" in post.text
    if bot.platform_name == "slack":
        assert post.extra["actions"] == [
            Action("I'll come", "rsvp 1 yes", poll=True),
            Action("Maybe", "rsvp 1 maybe", poll=True),
            Action("Can't come", "rsvp 1 no", poll=True),
        ]
    else:
        assert post.extra["actions"] == []
    assert "Announced event #1" in said_to(bot, "fac")
    [event] = await events(bot)
    assert event.message_id == post.message_id and event.timezone == "Africa/Nairobi"


async def test_timezone_defaults_to_the_community_one(bot):
    await bot.say("fac", '!event add 2026-03-05 18:00 "Webinar"')
    assert "Thu 05 Mar 2026 18:00 UTC" in posted(bot).text


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ('!event add 2026-03-01 10:00 "Too late"', "is in the past"),
        ('!event add 2026-03-02 08:59 "Just gone"', "is in the past"),
        ('!event add 31-12-2026 10:00 "Bad date"', "`31-12-2026` is not a date"),
        ('!event add 2026-12-31 25:00 "Bad time"', "`25:00` is not a time"),
        ('!event add 2026-12-31 10:00 Mars/Base "Far"', "is not a timezone I know"),
        ('!event add 2026-12-31 10:00 ""', "needs a title"),
        ('!event add 2026-12-31 10:00 "' + "x" * 201 + '"', "too long"),
        ("!event add 2026-12-31 10:00 No quotes", "double quotes"),
        ('!event add 2026-12-31 10:00 "Talk" : astrology', "I don't know the topic `astrology`"),
    ],
)
async def test_bad_event_add_gets_a_short_answer_and_changes_nothing(bot, command, answer):
    await bot.say("fac", command)
    reply = said_to(bot, "fac")
    assert answer in reply and len(reply) < 500
    assert await events(bot) == []
    assert bot.posts_in() == []


async def test_topic_did_you_mean(bot):
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", '!event add 2026-12-31 10:00 "Talk" : budgetting tricks')
    assert "I don't know the topic" in said_to(bot, "fac")


async def test_only_facilitators_add_and_not_in_a_dm(bot):
    await bot.say("kofi", ADD)
    assert "Only facilitators" in said_to(bot, "kofi")
    await bot.dm("fac", ADD[1:])
    assert "in the channel where the event should be announced" in said_to(bot, "fac")
    assert await events(bot) == []


# RSVPs, listing --------------------------------------------------------------------------


async def test_rsvp_change_and_counts(bot):
    await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    answer = said_to(bot, "kofi")
    assert "You're coming to event #1" in answer and WHEN in answer
    await bot.say("ama", "!rsvp #1 maybe")
    assert "maybe" in said_to(bot, "ama") and WHEN in said_to(bot, "ama")
    await bot.say("zoe", "!rsvp 1 no")
    await bot.say("zoe", "!rsvp 1 YES")
    await bot.say("ama", "!rsvp 1 no")
    assert sorted((await rsvps(bot)).values()) == ["no", "yes", "yes"]
    await bot.say("lena", "!event 1")
    shown = said_to(bot, "lena")
    assert "2 yes · 0 maybe · 1 no" in shown and "Deep dive" in shown and WHEN in shown
    await bot.say("lena", "!events")
    listing = said_to(bot, "lena")
    assert "#1 ·" in listing and "2 coming" in listing


async def test_events_lists_upcoming_soonest_first(bot):
    await announce(bot, '!event add 2026-03-20 10:00 "Later"')
    await announce(bot, '!event add 2026-03-03 10:00 "Sooner"')
    await announce(bot, '!event add 2026-03-10 10:00 "Cancelled"')
    await bot.say("fac", "!event cancel 3")
    await bot.say("kofi", "!events")
    listing = said_to(bot, "kofi")
    assert listing.index("Sooner") < listing.index("Later") and "Cancelled" not in listing
    bot.clock.advance(days=2)
    await bot.say("kofi", "!events")
    assert "Sooner" not in said_to(bot, "kofi")


async def test_rsvp_refusals(bot):
    await bot.say("kofi", "!rsvp 9")
    assert "There is no event #9" in said_to(bot, "kofi")
    await bot.say("kofi", "!event 9")
    assert "There is no event #9" in said_to(bot, "kofi")
    await bot.say("kofi", "!rsvp soon")
    assert "is not an event number" in said_to(bot, "kofi")
    await announce(bot)
    await bot.say("kofi", "!rsvp 1 perhaps")
    assert "is not an answer" in said_to(bot, "kofi")
    await bot.say("fac", "!event cancel 1")
    await bot.say("kofi", "!rsvp 1")
    assert "was cancelled" in said_to(bot, "kofi")
    await announce(bot, '!event add 2026-03-02 10:00 "Soon"')
    bot.clock.advance(hours=2)
    await bot.say("kofi", "!rsvp 2")
    assert "has already started" in said_to(bot, "kofi")
    assert await rsvps(bot) == {}


async def test_a_reaction_on_the_announcement_is_a_yes(bot):
    post = await announce(bot)
    await bot.say("kofi", "hello")
    await bot.react("kofi", "+1", "someothermessage")
    assert await rsvps(bot) == {}
    emoji = {"slack": "white_check_mark", "matrix": "👍", "console": "✅"}[bot.platform_name]
    await bot.react("kofi", emoji, post.message_id)
    assert list((await rsvps(bot)).values()) == ["yes"]
    assert "You're coming to event #1" in said_to(bot, "kofi")
    await bot.react("ama", "thumbsup", post.message_id)
    assert sorted((await rsvps(bot)).values()) == ["yes", "yes"]


# reminders and the start ------------------------------------------------------------------


async def test_reminders_a_day_and_an_hour_before_each_once(bot):
    await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    await bot.say("ama", "!rsvp 1 maybe")
    bot.clear()
    assert await remind(bot) == 0
    bot.clock.advance(days=2, hours=5, minutes=59)  # Wed 4 Mar 14:59 UTC
    assert await remind(bot) == 0
    bot.clock.advance(minutes=1)  # 24 h before
    assert await remind(bot) == 1
    assert await remind(bot) == 0
    [day] = notices(bot, "kofi", "Reminder")
    assert "in 24 hours" in day and WHEN in day
    assert notices(bot, "ama", "Reminder") == []
    bot.clock.advance(hours=23)  # 1 h before
    assert await remind(bot) == 1
    assert await remind(bot) == 0
    assert len(notices(bot, "kofi", "Reminder")) == 2
    assert "in an hour" in notices(bot, "kofi", "Reminder")[-1]
    bot.clock.advance(hours=1)  # the start
    assert await remind(bot) == 2
    assert await remind(bot) == 0
    starts = [s.text for s in bot.posts_in() if "starts now" in s.text]
    assert starts == ["🟢 Event #1, **Deep dive: property tax**, starts now."]
    assert len(notices(bot, "kofi", "Starting now")) == 1
    assert notices(bot, "ama", "Starting now") == []
    bot.clock.advance(days=1)
    assert await remind(bot) == 0


async def test_a_reminder_is_skipped_when_signing_up_after_its_time(bot):
    await announce(bot)
    bot.clock.advance(days=2, hours=12)  # Wed 4 Mar 21:00 UTC, 18 h before
    await bot.say("kofi", "!rsvp 1")
    bot.clear()
    assert await remind(bot) == 0
    bot.clock.advance(hours=17)
    assert await remind(bot) == 1
    assert len(notices(bot, "kofi", "in an hour")) == 1
    assert notices(bot, "kofi", "in 24 hours") == []


async def test_a_missed_day_reminder_is_not_sent_late_and_a_late_start_is_limited(bot):
    await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    bot.clear()
    bot.clock.advance(days=3, hours=5, minutes=30)  # 30 min before; the bot was down
    assert await remind(bot) == 1
    assert len(notices(bot, "kofi", "Reminder")) == 1
    assert "in an hour" in notices(bot, "kofi", "Reminder")[0]
    bot.clock.advance(hours=bot.settings.prompt_grace_hours + 1)  # down past the grace
    assert await remind(bot) == 0
    assert [s for s in bot.posts_in() if "starts now" in s.text] == []


async def test_reminders_are_not_repeated_after_a_restart(bot, settings, clock):
    await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    bot.clock.advance(days=2, hours=6)
    assert await remind(bot) == 1
    await bot.close()
    again = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        assert await remind(again) == 0
        clock.advance(hours=23)
        assert await remind(again) == 1
        clock.advance(hours=1)
        assert await remind(again) == 2
        assert await remind(again) == 0
        assert len(notices(again, "kofi", "Reminder")) == 1
        assert len(notices(again, "kofi", "Starting now")) == 1
    finally:
        await again.close()
    bot.app = build(settings, clock=clock, schedule=False)  # closed above; fixture closes this
    bot.app.add_platform(bot.platform)
    await bot.app.start(migrate=False)


async def test_two_processes_send_each_notice_once(bot, settings, clock):
    await announce(bot)
    for name in ("kofi", "ama", "zoe"):
        await bot.say(name, "!rsvp 1")
    bot.clear()
    other = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        for hours, expected in ((2 * 24 + 6, 3), (23, 3), (1, 4)):
            clock.advance(hours=hours)
            results = await asyncio.gather(remind(bot), remind(other), remind(bot))
            assert sum(results) == expected
        sent = bot.platform.sent + other.platform.sent
        to = [s.private_to.id for s in sent if s.private_to is not None]
        assert len(to) == 9 and all(to.count(user) == 3 for user in set(to))
        assert len([s for s in sent if s.private_to is None and "starts now" in s.text]) == 1
        async with bot.app.db.sessions() as session:
            # and "choices" and the announcement's calendar file (each yes's came with the
            # answer, not through the outbox)
            assert len((await session.scalars(select(Notice))).all()) == 12
    finally:
        await other.close()


async def test_a_failed_reminder_is_given_back_and_sent_once_later(bot):
    """The platform fails the first try: the reminder stays queued (never marked sent) and
    goes out once its back-off has passed; the next run of the job queues nothing again."""
    await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    bot.clear()
    bot.clock.advance(days=2, hours=6)
    bot.platform.fail_next = 1
    assert await remind(bot) == 1
    assert notices(bot, "kofi", "in 24 hours") == []
    assert await remind(bot) == 0
    bot.clock.advance(seconds=5)
    assert await bot.deliver() == 1
    assert len(notices(bot, "kofi", "in 24 hours")) == 1
    assert await remind(bot) == 0
    assert len(notices(bot, "kofi", "in 24 hours")) == 1


# cancelling, attendees -------------------------------------------------------------------


async def test_cancel_tells_the_channel_and_yes_and_maybe_once(bot):
    await announce(bot, channel="events")
    await bot.say("kofi", "!rsvp 1")
    await bot.say("ama", "!rsvp 1 maybe")
    await bot.say("zoe", "!rsvp 1 no")
    bot.clear()
    await bot.say("fac", "!event cancel 1")
    assert "told 2 people" in said_to(bot, "fac")
    [post] = [s.text for s in bot.posts_in("events")]
    assert "is cancelled" in post and "Deep dive" in post
    assert len(notices(bot, "kofi", "is cancelled")) == 1
    assert len(notices(bot, "ama", "is cancelled")) == 1
    assert notices(bot, "zoe", "is cancelled") == []
    await bot.say("fac", "!event cancel 1")
    assert "already cancelled" in said_to(bot, "fac")
    assert await remind(bot) == 0  # nothing again, no reminders either
    bot.clock.advance(days=2, hours=6)
    assert await remind(bot) == 0
    assert len(notices(bot, "kofi", "is cancelled")) == 1
    assert notices(bot, "kofi", "Reminder") == []


async def test_cancel_refusals(bot):
    await bot.say("fac", "!event cancel 4")
    assert "There is no event #4" in said_to(bot, "fac")
    await announce(bot)
    await bot.say("kofi", "!event cancel 1")
    assert "Only facilitators" in said_to(bot, "kofi")
    assert (await events(bot))[0].cancelled_at is None


async def test_attendees_for_facilitators_and_coordinators_only(bot):
    await announce(bot)
    await bot.say("kofi", "!profile city Nairobi")
    await bot.say("kofi", "!profile org Nairobi City County")
    await bot.say("kofi", "!rsvp 1")
    await bot.say("ama", "!rsvp 1 maybe")
    await bot.say("zoe", "!rsvp 1")
    await bot.say("fac", "!event attendees 1")
    listing = said_to(bot, "fac")
    assert "2 coming, 1 maybe" in listing
    assert "kofi · Nairobi · Nairobi City County" in listing and "zoe" in listing
    assert "ama" not in listing
    await bot.say("coord", "!event attendees 1")
    assert "2 coming" in said_to(bot, "coord")
    await bot.say("kofi", "!event attendees 1")
    assert "Only facilitators and coordinators" in said_to(bot, "kofi")
    await bot.say("fac", "!event attendees 7")
    assert "There is no event #7" in said_to(bot, "fac")


async def test_help_lists_the_event_commands(bot):
    await bot.say("kofi", "!help")
    listing = said_to(bot, "kofi")
    assert "rsvp" in listing and "events" in listing and "event add" not in listing


async def test_declared_arguments_answer_with_the_usage_and_change_nothing(bot):
    await announce(bot)
    rsvp_usage = "\nUsage: `rsvp <id> [yes|no|maybe]`"
    await bot.say("kofi", "!rsvp 1 perhaps")
    assert said_to(bot, "kofi") == (
        "`perhaps` is not an answer; say yes, no or maybe." + rsvp_usage
    )
    await bot.say("kofi", "!rsvp")
    assert said_to(bot, "kofi") == (
        "Which event, and will you come? For example: rsvp 3 yes" + rsvp_usage
    )
    await bot.say("kofi", "!event 1 2")
    assert said_to(bot, "kofi") == "Which event? For example: event 3\nUsage: `event <id>`"
    await bot.say("kofi", "!events soon")
    assert said_to(bot, "kofi") == "Just `events`; `event <id>` shows one.\nUsage: `events`"
    assert await rsvps(bot) == {}
    await bot.say("fac", "!event add 2026-03-05")
    assert said_to(bot, "fac") == (
        "Say when and what, with the title in double quotes, for example: "
        'event add 2026-04-14 15:00 Africa/Nairobi "Deep dive: property tax"\n'
        'Usage: `event add <YYYY-MM-DD> <HH:MM> [Area/City] "<title>" [: topic, ...]`'
    )
    assert len(await events(bot)) == 1
    await bot.say("kofi", "!rsvp #1 MAYBE")
    assert said_to(bot, "kofi").startswith("Noted: maybe for event #1")
    assert list((await rsvps(bot)).values()) == ["maybe"]


async def test_a_slash_in_a_quoted_title_is_not_a_timezone(bot):
    await bot.say("fac", '!event add 2026-03-05 18:00 "Budget 2026/27"')
    assert "Announced event #1" in said_to(bot, "fac")
    [event] = await events(bot)
    assert (event.title, event.timezone) == ("Budget 2026/27", "UTC")


# the answers as one poll, closed at the start -----------------------------------------------


def record_sends(harness: BotHarness) -> list[tuple[str, tuple[Action, ...]]]:
    """Every post's text and actions, as the platform was handed them (whatever it draws)."""
    seen: list[tuple[str, tuple[Action, ...]]] = []
    send = harness.platform.send

    async def recording(channel, text, thread_id=None, actions=()):
        seen.append((text, tuple(actions)))
        return await send(channel, text, thread_id, actions)

    harness.platform.send = recording
    return seen


def record_closes(harness: BotHarness, closed: list, failures: list | None = None) -> None:
    """`close_choices` calls land in `closed`; each exception in `failures` fails one."""

    async def close_choices(channel, message_id):
        closed.append((channel.id, message_id))
        if failures:
            raise failures.pop(0)

    harness.platform.close_choices = close_choices


POLL = [
    Action("I'll come", "rsvp 1 yes", poll=True),
    Action("Maybe", "rsvp 1 maybe", poll=True),
    Action("Can't come", "rsvp 1 no", poll=True),
]


async def test_the_answers_are_offered_as_one_choice(bot):
    seen = record_sends(bot)
    await announce(bot)
    [(text, actions)] = seen
    assert "Event #1" in text and list(actions) == POLL


async def test_a_queued_notice_keeps_its_poll_choice(bot):
    """The outbox stores and rebuilds a notice's actions with their `poll` mark."""
    seen = record_sends(bot)
    actions = [*service.actions(1), Action(verbatim("Help"), "help")]
    text = verbatim("An announcement")
    assert await outbox.post(bot.app.services(), "event:1", "test", bot.channel(), text,
                             actions=actions)  # fmt: skip
    assert await bot.deliver() == 1
    assert seen == [("An announcement", (*POLL, Action("Help", "help")))]


async def test_changing_a_poll_answer_replaces_the_rsvp(bot):
    """A poll answer reaches the core as the command it stands for (as a button click)."""
    await announce(bot)
    await bot.slash("kofi", "rsvp 1 maybe")
    assert said_to(bot, "kofi").startswith("Noted: maybe for event #1")
    await bot.slash("kofi", "rsvp 1 yes")
    assert said_to(bot, "kofi").startswith("✅ You're coming to event #1")
    assert list((await rsvps(bot)).values()) == ["yes"]


async def test_the_answers_close_once_at_the_start_not_again_after_a_restart(bot, settings, clock):
    closed: list = []
    record_closes(bot, closed)
    post = await announce(bot)
    await bot.say("kofi", "!rsvp 1")
    clock.advance(days=3, hours=5, minutes=59)  # Thu 05 Mar 2026 14:59 UTC: not yet
    await remind(bot)
    assert closed == []
    clock.advance(minutes=1)  # 15:00 UTC: it starts
    await remind(bot)
    assert closed == [(bot.channel().id, post.message_id)]
    await remind(bot)
    await bot.close()
    again = await BotHarness(bot.platform_name, settings, clock).start()
    other = await BotHarness(bot.platform_name, settings, clock).start()
    record_closes(again, closed)
    record_closes(other, closed)
    try:
        clock.advance(minutes=1)
        await asyncio.gather(remind(again), remind(other), remind(again))
        assert len(closed) == 1
        await again.say("ama", "!rsvp 1")  # what a late poll answer would do
        assert "has already started" in said_to(again, "ama")
    finally:
        await again.close()
        await other.close()
    bot.app = build(settings, clock=clock, schedule=False)  # closed above; fixture closes this
    bot.app.add_platform(bot.platform)
    await bot.app.start(migrate=False)


async def test_closing_that_fails_is_tried_again_and_the_start_still_goes(bot, clock):
    closed: list = []
    record_closes(bot, closed, failures=[ConnectionError("the homeserver is away")])
    post = await announce(bot)
    clock.advance(days=3, hours=6)
    await remind(bot)
    assert closed == [(bot.channel().id, post.message_id)]  # tried, and failed
    assert [p.text for p in bot.posts_in() if "starts now" in p.text]
    clock.advance(minutes=1)
    await remind(bot)
    await remind(bot)
    assert closed == [(bot.channel().id, post.message_id)] * 2  # the second one went


async def test_cancelling_closes_the_answers_once(bot):
    closed: list = []
    record_closes(bot, closed)
    post = await announce(bot)
    await bot.say("fac", "!event cancel 1")
    assert closed == [(bot.channel().id, post.message_id)]
    await remind(bot)
    bot.clock.advance(days=3, hours=6)
    await remind(bot)
    assert len(closed) == 1
