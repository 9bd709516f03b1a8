"""Members' calendar feeds: `calendar` gives a private address once (only its hash is kept),
`calendar reset` replaces it; over real HTTP the feed is valid iCalendar (read by
`icalendar` and `vobject`) listing only that member's yes/maybe events and call deadlines;
a reset, unknown or malformed token is a plain 404."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

import aiohttp
import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import select

from bot import health
from bot.models import CalendarFeed

PUBLIC = "https://convener.example.org"
ADDRESS = re.compile(re.escape(PUBLIC) + r"/calendar/([A-Za-z0-9_-]{43})\.ics")


@pytest.fixture
def public(bot):
    bot.app.settings = bot.app.settings.model_copy(update={"public_url": PUBLIC})
    return bot


async def address_of(bot, name: str, command: str = "!calendar") -> str:
    await bot.say(name, command)
    found = ADDRESS.search(bot.replies_to(name)[-1])
    assert found, bot.replies_to(name)[-1]
    return found[1]


async def fetch(bot, path: str) -> tuple[int, bytes, str]:
    server = health.HttpServer(bot.app, "127.0.0.1", 0)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}{path}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.read(), response.content_type
    finally:
        await server.close()


def entries(body: bytes) -> dict[str, tuple]:
    """UID -> (summary, start) as both readers say it."""
    found = {
        str(e["UID"]): (str(e["SUMMARY"]), e.decoded("DTSTART"))
        for e in Calendar.from_ical(body).walk("VEVENT")
    }
    other = vobject.readOne(body.decode())
    assert {e.uid.value for e in other.vevent_list} == set(found)
    for e in other.vevent_list:
        start = found[e.uid.value][1]
        if isinstance(start, datetime):
            assert e.dtstart.value.astimezone(UTC) == start.astimezone(UTC)
        else:
            assert e.dtstart.value == start
    return found


async def test_without_a_public_address_the_coordinator_is_asked(bot):
    await bot.say("kofi", "!calendar")
    assert "CONVENER_PUBLIC_URL" in bot.replies_to("kofi")[-1]
    async with bot.app.db.sessions() as session:
        assert (await session.scalars(select(CalendarFeed))).all() == []


async def test_the_address_is_given_once_kept_hashed_and_reset(public):
    bot = public
    token = await address_of(bot, "kofi")
    await bot.say("kofi", "!calendar")
    again = bot.replies_to("kofi")[-1]
    assert "calendar reset" in again and token not in again and not ADDRESS.search(again)
    async with bot.app.db.sessions() as session:
        [feed] = (await session.scalars(select(CalendarFeed))).all()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    new = await address_of(bot, "kofi", "!calendar reset")
    assert new != token and "no longer works" in bot.replies_to("kofi")[-1]


async def test_the_feed_lists_only_the_members_events_and_deadlines(public):
    bot = public
    await bot.say("fac", '!event add 2026-03-05 18:00 Africa/Nairobi "Nairobi deep dive"')
    await bot.say("fac", '!event add 2026-03-30 15:00 Europe/Berlin "Berlin study visit"')
    await bot.say("fac", '!event add 2026-03-20 10:00 UTC "Cancelled one"')
    await bot.say("fac", '!event add 2026-03-21 10:00 UTC "Said no"')
    await bot.say("fac", '!call add 2026-03-20 "Peer exchange Seoul"')
    await bot.say("fac", '!call add 2026-03-25 "Withdrawn call"')
    for command in ("!rsvp 1", "!rsvp 2 maybe", "!rsvp 3", "!rsvp 4 no", "!interest 1 keen",
                    "!interest 2 maybe", "!interest withdraw 2"):  # fmt: skip
        await bot.say("kofi", command)
    await bot.say("ama", "!rsvp 4")
    await bot.say("fac", "!event cancel 3")
    kofi = await address_of(bot, "kofi")
    ama = await address_of(bot, "ama")

    status, body, kind = await fetch(bot, f"/calendar/{kofi}.ics")
    assert status == 200 and kind == "text/calendar"
    found = entries(body)
    assert set(found) == {
        "event-1@convener.example.org",
        "event-2@convener.example.org",
        "call-1@convener.example.org",
    }
    assert found["event-1@convener.example.org"][1].astimezone(UTC) == datetime(
        2026, 3, 5, 15, 0, tzinfo=UTC
    )
    assert found["event-2@convener.example.org"][1].astimezone(UTC) == datetime(
        2026, 3, 30, 13, 0, tzinfo=UTC
    )
    assert found["call-1@convener.example.org"] == ("Deadline: Peer exchange Seoul",
                                                     date(2026, 3, 20))  # fmt: skip
    status, body, _kind = await fetch(bot, f"/calendar/{ama}.ics")
    assert status == 200 and set(entries(body)) == {"event-4@convener.example.org"}


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 43 + ".ics",  # well formed, unknown
        "/calendar/" + "A" * 42 + ".ics",  # too short
        "/calendar/" + "A" * 44 + ".ics",  # too long
        "/calendar/" + "A" * 42 + "!.ics",  # a character a token never has
        "/calendar/" + "A" * 43,  # no .ics
        "/calendar/" + "A" * 43 + ".ics.bak",
        "/calendar/",
    ],
)
async def test_unknown_and_malformed_tokens_are_a_plain_404(public, path):
    status, body, _kind = await fetch(public, path)
    assert status == 404 and len(body) < 20 and b"calendar" not in body.lower()


async def test_a_reset_token_is_a_404_and_the_new_one_works(public):
    bot = public
    old = await address_of(bot, "kofi")
    new = await address_of(bot, "kofi", "!calendar reset")
    assert (await fetch(bot, f"/calendar/{old}.ics"))[0] == 404
    assert (await fetch(bot, f"/calendar/{new}.ics"))[0] == 200
