"""The Events and Calls sheets of the engagement workbook, and their Summary figures: RSVPs
by answer and yes answers by city, interests by city and organisation, cancelled events and
withdrawn interests, and titles written as text."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.test_report import rows, workbook

EVENT_HEADER = (
    "Id", "Title", "Starts", "Channel", "Cancelled", "Yes", "Maybe", "No", "Yes by city"
)  # fmt: skip
CALL_HEADER = ("Id", "Title", "Deadline", "Status", "Interests", "By city", "By organisation")


async def profile(bot, name: str, city: str | None, org: str | None = None) -> None:
    if city:
        await bot.say(name, f"!profile city {city}")
    if org:
        await bot.say(name, f"!profile org {org}")


async def programme(bot) -> None:
    """On 2026-03-02: event #1 in March (4 yes from Nairobi x2, Seoul, no city; 1 maybe;
    1 no), event #2 cancelled, event #3 in April; call #1 closing 2026-03-20 (3 interests and
    one withdrawn), call #2 closing 2026-04-30 (1 interest)."""
    await profile(bot, "kofi", "Nairobi", "Nairobi City County")
    await profile(bot, "ama", "Nairobi", "Nairobi City County")
    await profile(bot, "minji", "Seoul", "Seoul Metropolitan Government")
    await bot.say("fac", '!event add 2026-03-05 18:00 "=SUM(A1) Deep dive"')
    assert "#1" in bot.last_reply_to("fac")
    for name, answer in (("kofi", "yes"), ("ama", "yes"), ("minji", "yes"), ("ben", "yes"),
                         ("lena", "maybe"), ("omar", "no")):  # fmt: skip
        await bot.say(name, f"!rsvp 1 {answer}")
    await bot.say("fac", '!event add 2026-03-10 10:00 "Cancelled talk"')
    await bot.say("kofi", "!rsvp 2 yes")
    await bot.say("fac", "!event cancel 2")
    await bot.say("fac", '!event add 2026-04-10 10:00 "Later"')
    await bot.say("fac", '!call add 2026-03-20 "Panel"')
    assert "Announced call #1" in bot.last_reply_to("fac")
    for name in ("kofi", "ama", "minji", "ben"):
        await bot.say(name, "!interest 1 I would like to join")
    await bot.say("ben", "!interest withdraw 1")
    await bot.say("fac", '!call add 2026-04-30 "+1 Open call"')
    await bot.say("kofi", "!interest 2 Count me in")


async def test_events_and_calls_sheets_and_summary(bot):
    await programme(bot)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    names = book.sheetnames
    assert names[names.index("Knowledge") :] == [
        "Knowledge", "Events", "Calls", "Connections", "Definitions"
    ]  # fmt: skip

    events = rows(book, "Events")
    assert events[0] == EVENT_HEADER
    held, cancelled = events[1:]
    assert held[:3] == (1, "=SUM(A1) Deep dive", datetime(2026, 3, 5, 18))
    assert held[4:] == ("no", 4, 1, 1, "Nairobi 2, Seoul 1, unknown 1")
    assert cancelled[0:2] == (2, "Cancelled talk")
    assert cancelled[4:] == ("yes", 1, 0, 0, "Nairobi 1")
    assert held[3] and held[3] == cancelled[3]  # the channel it was announced in

    calls = rows(book, "Calls")
    assert calls[0] == CALL_HEADER
    assert calls[1:] == [
        (1, "Panel", datetime(2026, 3, 20), "closed", 3, "Nairobi 2, Seoul 1",
         "Nairobi City County 2, Seoul Metropolitan Government 1"),
        (2, "+1 Open call", datetime(2026, 4, 30), "open", 1, "Nairobi 1",
         "Nairobi City County 1"),
    ]  # fmt: skip

    summary = {row[0]: row[1:3] for row in rows(book, "Summary")[1:]}
    assert summary["Events held"] == (1, 0)
    assert summary["Event sign-ups"] == (4, 0)
    assert summary["Calls"] == (1, 0)
    assert summary["Expressions of interest"] == (3, 0)

    for sheet in ("Events", "Calls"):
        ws = book[sheet]
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert book["Events"]["B2"].data_type == "s" and book["Calls"]["B3"].data_type == "s"
    terms = {row[0]: row[1] for row in rows(book, "Definitions")}
    for term in ("Events held, event sign-ups", "Events", "Calls, expressions of interest",
                 "Calls"):  # fmt: skip
        assert terms[term]


async def test_april_counts_the_later_event_and_call(bot):
    await programme(bot)
    bot.clock.now = datetime(2026, 5, 1, tzinfo=UTC)
    book = workbook(bot, "2026-04-01", "2026-04-30")
    assert [row[1] for row in rows(book, "Events")[1:]] == ["Later"]
    assert [row[:4] for row in rows(book, "Calls")[1:]] == [
        (2, "+1 Open call", datetime(2026, 4, 30), "closed")
    ]
    summary = {row[0]: row[1:3] for row in rows(book, "Summary")[1:]}
    assert summary["Events held"] == (1, 1)
    assert summary["Event sign-ups"] == (0, 4)
    assert summary["Expressions of interest"] == (1, 3)


async def test_empty_period_says_so(bot):
    book = workbook(bot)
    assert rows(book, "Events")[1][0].startswith("No events started")
    assert rows(book, "Calls")[1][0].startswith("No call had its deadline")
