"""The Knowledge sheet of the engagement workbook: the library's entries and resources, how
often each was shown and how often it answered a question."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from bot.models import KnowledgeEntry
from tests.test_report import rows, workbook

QUESTION = "How do other cities plan a multi-year capital budget?"
HEADER = ("Id", "Kind", "Title", "Topics", "Created", "Link", "Shown", "Answered")


async def library(bot) -> None:
    """On 2026-03-02: a resource on budgeting (#1), then question #1 kept with kofi's answer
    (#2); one search shows the resource."""
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", '!resource add https://example.org/a Toolkit =HYPERLINK("x"): budgeting')
    assert bot.last_reply_to("fac").startswith("Added resource #1")
    bot.clock.advance(hours=1)
    await bot.say("lena", f"!ask {QUESTION}")
    root = next(s for s in bot.posts_in() if "Question #1**" in s.text)
    await bot.say("kofi", "We phase it over three years.", thread_id=root.message_id)
    await bot.say("lena", "!solved 1")
    await bot.say("ben", "!search toolkit")
    assert "#1 Toolkit" in bot.last_reply_to("ben")
    # Nothing counts answers yet when the library is offered at `ask`: set the counter.
    async with bot.app.db.sessions() as session:
        await session.execute(
            update(KnowledgeEntry).where(KnowledgeEntry.id == 2).values(answered=3)
        )
        await session.commit()


async def test_the_knowledge_sheet_lists_entries_and_resources(bot):
    await library(bot)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    names = book.sheetnames
    assert names.index("Knowledge") == names.index("Prompts") + 1
    assert names.index("Events") == names.index("Knowledge") + 1
    sheet = rows(book, "Knowledge")
    assert sheet[0] == HEADER
    resource, kept = sheet[1:]
    day = datetime(2026, 3, 2)
    assert resource == (
        1, "resource", 'Toolkit =HYPERLINK("x")', "budgeting", day, "https://example.org/a", 1, 0
    )  # fmt: skip
    assert kept[:4] == (2, "question", QUESTION, "budgeting")
    assert kept[4:] == (day, "question #1", 0, 3)
    ws = book["Knowledge"]
    assert all(cell.data_type == "s" for cell in (ws["C2"], ws["C3"], ws["F2"], ws["F3"]))
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    terms = {row[0]: row[1] for row in rows(book, "Definitions")}
    assert "cumulative" in terms["Knowledge"]
    assert "running totals" in terms["Knowledge: shown, answered"]


async def test_a_title_starting_with_equals_is_text_not_a_formula(bot):
    await bot.say("fac", '!resource add https://example.org/f =HYPERLINK("x") Toolkit')
    await bot.say("fac", "!resource add https://example.org/g +1 @SUM(A1)")
    book = workbook(bot)
    ws = book["Knowledge"]
    assert [ws["C2"].value, ws["C3"].value] == ['=HYPERLINK("x") Toolkit', "+1 @SUM(A1)"]
    assert ws["C2"].data_type == "s" and ws["C3"].data_type == "s"


async def test_the_library_is_cumulative_up_to_the_end_of_the_period(bot):
    await library(bot)  # 2026-03-02
    bot.clock.now = datetime(2026, 4, 5, 12, tzinfo=UTC)
    await bot.say("fac", "!resource add https://example.org/later Later guide")
    bot.clock.now = datetime(2026, 4, 30, tzinfo=UTC)
    march = rows(workbook(bot, "2026-03-20", "2026-03-31"), "Knowledge")
    assert [row[0] for row in march[1:]] == [1, 2]  # created before the period: still listed
    april = rows(workbook(bot, "2026-04-01", "2026-04-30"), "Knowledge")
    assert [row[0] for row in april[1:]] == [1, 2, 3]
    assert april[3][4] == datetime(2026, 4, 5)
    february = rows(workbook(bot, "2026-02-01", "2026-02-28"), "Knowledge")
    assert february[1][0].startswith("The knowledge library had no entries")


async def test_pseudonymous_workbook_keeps_titles_and_adds_no_names(bot):
    await library(bot)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    named = rows(workbook(bot, "2026-03-01", "2026-03-31"), "Knowledge")
    hidden = rows(workbook(bot, "2026-03-01", "2026-03-31", pseudonymous=True), "Knowledge")
    assert hidden == named
    cells = {str(value) for row in hidden for value in row}
    assert not {"fac", "lena", "kofi", "ben"} & cells
    assert not any("Member " in cell for cell in cells)
