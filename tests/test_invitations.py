"""Events' calendar invitations (`.ics`), read back by `icalendar` and by `vobject` (an
independent reader): the right UTC instant for a Nairobi and a Berlin event on both sides of
daylight saving, a stable UID, a higher SEQUENCE after a move or a cancellation; and, on
every platform name, the announcement's file, a yes or maybe's file (not a no's), `event
move` and `event cancel` sending the update to the yes and maybe, and bad `event move`
input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import select

from bot import ical
from bot.models import Event
from handlers.events import jobs
from tests.harness import BotHarness

# the clock starts on Mon 2 Mar 2026 09:00 UTC; Berlin leaves CET for CEST on Sun 29 Mar
NAIROBI = '!event add 2026-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'


def read(data: bytes) -> dict:
    """What both readers say of the file's one VEVENT (they must agree)."""
    [entry] = Calendar.from_ical(data).walk("VEVENT")
    method = Calendar.from_ical(data).get("METHOD")
    other = vobject.readOne(data.decode()).vevent
    starts = entry.decoded("DTSTART")
    assert other.dtstart.value.astimezone(UTC) == starts.astimezone(UTC)
    assert other.dtend.value.astimezone(UTC) == entry.decoded("DTEND").astimezone(UTC)
    assert other.uid.value == str(entry["UID"])
    assert int(other.sequence.value) == int(entry["SEQUENCE"])
    return {
        "method": str(method) if method else None,
        "utc": starts.astimezone(UTC),
        "tzid": entry["DTSTART"].params.get("TZID"),
        "uid": str(entry["UID"]),
        "sequence": int(entry["SEQUENCE"]),
        "status": str(entry["STATUS"]),
        "summary": str(entry["SUMMARY"]),
    }


def file_dms(bot: BotHarness, name: str) -> list[dict]:
    return [read(file.data) for file in bot.files_to(name)]


def file_posts(bot: BotHarness, channel: str = "general") -> list:
    return [post for post in bot.posts_in(channel) if post.file is not None]


async def event(bot: BotHarness, event_id: int = 1) -> Event:
    async with bot.app.db.sessions() as session:
        return await session.scalar(select(Event).where(Event.id == event_id))


# the file itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "zone", "utc"),
    [
        ("2026-03-05 18:00", "Africa/Nairobi", datetime(2026, 3, 5, 15, 0, tzinfo=UTC)),
        ("2026-03-27 15:00", "Europe/Berlin", datetime(2026, 3, 27, 14, 0, tzinfo=UTC)),
        ("2026-03-30 15:00", "Europe/Berlin", datetime(2026, 3, 30, 13, 0, tzinfo=UTC)),
        ("2026-10-26 15:00", "Europe/Berlin", datetime(2026, 10, 26, 14, 0, tzinfo=UTC)),
        ("2026-07-01 09:30", "America/New_York", datetime(2026, 7, 1, 13, 30, tzinfo=UTC)),
        ("2026-07-01 09:30", "Australia/Sydney", datetime(2026, 6, 30, 23, 30, tzinfo=UTC)),
    ],
)
async def test_the_announcement_file_has_the_right_instant_for_both_readers(bot, day, zone, utc):
    await bot.say("fac", f'!event add {day} {zone} "Budgeting across borders"')
    [post] = file_posts(bot)
    assert post.file.filename == "event-1.ics" and post.file.mimetype == "text/calendar"
    seen = read(post.file.data)
    assert seen["utc"] == utc and seen["tzid"] == zone
    assert seen["method"] == "PUBLISH" and seen["sequence"] == 0
    assert seen["uid"] == "event-1@convener.invalid" and seen["status"] == "CONFIRMED"
    assert seen["summary"] == "Budgeting across borders"
    text = post.file.data.decode()
    assert f"TZID:{zone}" in text and "BEGIN:VTIMEZONE" in text
    if zone != "Africa/Nairobi":  # a yearly rule, as Outlook reads it, not a list of dates
        assert "RRULE:FREQ=YEARLY" in text and "RDATE" not in text


def test_the_uid_names_the_public_host():
    assert ical.uid("event", 7, "https://convener.example.org/") == "event-7@convener.example.org"
    assert ical.uid("event", 7, "") == "event-7@convener.invalid"


# where the files go ---------------------------------------------------------------------


async def test_rsvp_yes_and_maybe_get_an_invitation_and_no_does_not(bot):
    await bot.say("fac", NAIROBI)
    await bot.say("kofi", "!rsvp 1")
    await bot.say("ama", "!rsvp 1 maybe")
    await bot.say("zoe", "!rsvp 1 no")
    assert any("You're coming to event #1" in r for r in bot.replies_to("kofi"))
    [kofi] = file_dms(bot, "kofi")
    [ama] = file_dms(bot, "ama")
    assert bot.files_to("zoe") == []
    assert kofi["method"] == "REQUEST" and kofi["uid"] == "event-1@convener.invalid"
    assert kofi["utc"] == datetime(2026, 3, 5, 15, 0, tzinfo=UTC) and ama == kofi
    await bot.say("kofi", "!rsvp 1 yes")  # still coming: no second file
    await bot.say("kofi", "!rsvp 1 maybe")
    assert len(bot.files_to("kofi")) == 1
    await bot.say("kofi", "!rsvp 1 no")  # then coming after all: the file again
    await bot.say("kofi", "!rsvp 1 yes")
    assert len(bot.files_to("kofi")) == 2


async def test_a_move_sends_the_update_to_yes_and_maybe_with_a_higher_sequence(bot):
    await bot.say("fac", NAIROBI)
    for name, answer in (("kofi", "yes"), ("ama", "maybe"), ("zoe", "no")):
        await bot.say(name, f"!rsvp 1 {answer}")
    bot.clear()
    await bot.say("fac", "!event move 1 2026-03-30 15:00 Europe/Berlin")
    reply = bot.replies_to("fac")[-1]
    assert "Moved event #1" in reply and "2 people" in reply
    [moved] = [post for post in bot.posts_in() if "has moved" in post.text]
    assert moved.file is not None and read(moved.file.data)["method"] == "PUBLISH"
    for name in ("kofi", "ama"):
        [update] = file_dms(bot, name)
        assert update["method"] == "REQUEST" and update["sequence"] == 1
        assert update["uid"] == "event-1@convener.invalid"
        assert update["utc"] == datetime(2026, 3, 30, 13, 0, tzinfo=UTC)
        assert update["tzid"] == "Europe/Berlin"
    assert bot.files_to("zoe") == [] and bot.files_to("fac") == []
    stored = await event(bot)
    assert stored.sequence == 1 and stored.timezone == "Europe/Berlin"
    await bot.say("fac", "!event move 1 2026-03-31 10:00")  # keeps its zone
    [_first, second] = file_dms(bot, "kofi")
    assert second["sequence"] == 2 and second["tzid"] == "Europe/Berlin"
    assert second["utc"] == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    await bot.say("fac", "!event cancel 1")
    [*_earlier, cancelled] = file_dms(bot, "ama")
    assert cancelled["method"] == "CANCEL" and cancelled["status"] == "CANCELLED"
    assert cancelled["sequence"] == 3 and cancelled["uid"] == "event-1@convener.invalid"
    [post] = [post for post in bot.posts_in() if "is cancelled" in post.text]
    assert read(post.file.data)["method"] == "CANCEL"
    assert bot.files_to("zoe") == []


async def test_a_moved_event_reminds_again_at_its_new_time(bot):
    await bot.say("fac", '!event add 2026-03-03 12:00 UTC "Webinar"')
    await bot.say("kofi", "!rsvp 1")
    bot.clock.advance(hours=3)  # a day before: the reminder goes
    await jobs.remind(bot.app.services())
    await bot.deliver()
    await bot.say("fac", "!event move 1 2026-03-04 12:00")
    bot.clock.advance(days=1)
    await jobs.remind(bot.app.services())
    await bot.deliver()
    reminders = [text for text in bot.replies_to("kofi") if "Reminder" in text]
    assert len(reminders) == 2


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("!event move", "Which event, and when?"),
        ("!event move 1", "Which event, and when?"),
        ("!event move 1 2026-03-10", "Which event, and when?"),
        ("!event move 1 10-03-2026 10:00", "is not a date"),
        ("!event move 1 2026-03-10 25:00", "25:00"),
        ("!event move 1 2026-03-10 10:00 Mars/Olympus", "is not a timezone I know"),
        ("!event move 1 2026-03-01 10:00", "is in the past"),
        ("!event move 9 2026-03-10 10:00", "There is no event #9"),
        ("!event move 1 2026-03-05 18:00", "already at that time"),
    ],
)
async def test_bad_moves_are_explained_and_change_nothing(bot, command, answer):
    await bot.say("fac", NAIROBI)
    await bot.say("kofi", "!rsvp 1")
    bot.clear()
    await bot.say("fac", command)
    assert answer in bot.replies_to("fac")[-1]
    stored = await event(bot)
    assert stored.sequence == 0 and stored.timezone == "Africa/Nairobi"
    assert bot.files_to("kofi") == [] and bot.posts_in() == []


async def test_only_facilitators_move_and_a_cancelled_event_stays(bot):
    await bot.say("fac", NAIROBI)
    await bot.say("kofi", "!event move 1 2026-03-10 10:00")
    assert "Only facilitators" in bot.replies_to("kofi")[-1]
    await bot.say("fac", "!event cancel 1")
    await bot.say("fac", "!event move 1 2026-03-10 10:00")
    assert "was cancelled" in bot.replies_to("fac")[-1]
    assert (await event(bot)).sequence == 1
