"""The Connections sheet of the engagement workbook: who learns from whom, city by city, the
city pairs connected and the share of answers across cities, worked out by hand; cities
merged into "other" in a pseudonymous report; the workbook opens in LibreOffice."""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from bot import members
from bot.models import IntroGroup, IntroMember, IntroRound, Question
from handlers.reports.build import write_report
from handlers.reports.pdf import to_pdf
from handlers.reports.period import parse_period
from tests.test_report import rows, workbook

CORNER = "Who helped ↓ / who was helped →"
FIGURES = ("City pairs connected", "Answers that crossed a city line")
CITIES = {"kofi": "Nairobi", "ama": " nairobi", "minji": "Seoul", "jisoo": "Seoul",
          "lucia": "Mexico City", "ben": None}  # fmt: skip


def at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


async def settle(bot, cities: dict[str, str | None]) -> dict[str, int]:
    """Everyone in `cities` posts once, then gets that city; their member ids."""
    for name in cities:
        await bot.say(name, "Hello")
    ids = {}
    async with bot.app.db.sessions() as session:
        for name, city in cities.items():
            member = await members.resolve(session, bot.user(name))
            member.city = city
            ids[name] = member.id
        await session.commit()
    return ids


async def answered(bot, asker: str, answerer: str, day: int, solved: bool = True) -> None:
    """`asker` posts a question, `answerer` replies an hour later; when `solved`, the question
    is solved that day crediting `answerer`."""
    bot.clock.now = at(day)
    root = await bot.say(asker, "How do you do it")
    bot.clock.now = at(day, 10)
    await bot.say(answerer, "Like this", thread_id=root.message_id)
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        channel = await members.resolve_channel(session, bot.channel("general"))
        asked_by = await members.resolve(session, bot.user(asker))
        credited = await members.resolve(session, bot.user(answerer))
        session.add(
            Question(
                asker_id=asked_by.id, channel_id=channel.id, message_id=root.message_id,
                text=root.text, asked_at=at(day),
                status="solved" if solved else "open",
                solved_at=at(day, 12) if solved else None,
                solved_by=credited.id if solved else None,
            )
        )  # fmt: skip
        await session.commit()


async def answers(bot) -> None:
    """March 2026: Nairobi answers Seoul twice (kofi and ama, who writes " nairobi"), Seoul
    answers Mexico City once, Nairobi answers Nairobi once, and Nairobi answers ben, who
    gave no city: 4 answers between members with a city, 3 across cities, 2 city pairs."""
    bot.clock.now = at(1)
    await settle(bot, CITIES)
    await answered(bot, "minji", "kofi", 2)
    await answered(bot, "jisoo", "ama", 3)
    await answered(bot, "lucia", "minji", 4)
    await answered(bot, "ama", "kofi", 5)
    await answered(bot, "ben", "kofi", 6)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)


def sheet(book) -> tuple[list[tuple], dict[str, tuple]]:
    """The Connections table (header first, up to its Total row) and the figures below it."""
    lines = rows(book, "Connections")
    start = next(i for i, line in enumerate(lines) if line[0] == CORNER)
    end = next(i for i, line in enumerate(lines) if i > start and line[0] == "Total")
    return [line[: len(lines[start])] for line in lines[start : end + 1]], figures_in(lines)


def figures_in(lines: list[tuple]) -> dict[str, tuple]:
    return {line[0]: line[1:3] for line in lines if line[0] in FIGURES}


async def test_answers_between_cities(bot):
    await answers(bot)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    names = book.sheetnames
    assert names[names.index("Calls") :] == ["Calls", "Connections", "Definitions"]
    table, figures = sheet(book)
    assert table == [
        (CORNER, "Mexico City", "Nairobi", "Seoul", "Total"),
        ("Mexico City", 0, 0, 0, 0),
        ("Nairobi", 0, 1, 2, 3),
        ("Seoul", 1, 0, 0, 1),
        ("Total", 1, 1, 2, 4),
    ]
    assert figures["City pairs connected"][0] == 2
    share, detail = figures["Answers that crossed a city line"]
    assert share == pytest.approx(3 / 4)
    assert detail == "3 of 4 credited answers between members with a city"

    overview = {row[0]: row[1:4] for row in rows(book, "Overview")}
    assert overview["Cities connected (pairs of cities)"] == (2, 0, 2)
    summary = {row[0]: row[1:4] for row in rows(book, "Summary")}
    assert summary["City pairs connected"] == (2, 0, 2)
    assert summary["Share of answers across cities"][:2] == (pytest.approx(0.75), None)
    terms = {row[0]: row[1] for row in rows(book, "Definitions")}
    for term in ("Connections", "City pairs connected", "Share of answers across cities"):
        assert terms[term]
    ws = book["Connections"]
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1

    april = workbook(bot, "2026-04-01", "2026-04-30")
    table, figures = sheet_or_empty(april)
    assert table == [] and figures["City pairs connected"][0] == 0
    none = "0 of 0 credited answers between members with a city"
    assert figures["Answers that crossed a city line"] == (None, none)
    assert {row[0]: row[1:4] for row in rows(april, "Overview")}[
        "Cities connected (pairs of cities)"
    ] == (0, 2, -2)


def sheet_or_empty(book) -> tuple[list, dict[str, tuple]]:
    lines = rows(book, "Connections")
    if any(line[0] == "Total" for line in lines):
        return sheet(book)
    assert any(str(line[0]).startswith("No exchanges between members") for line in lines)
    return [], figures_in(lines)


async def introduce(
    bot, ids: dict[str, int], day: int, *group: tuple[str, bool | None], month: int = 3
) -> None:
    """A group introduced on `day`, each member's answer to "did you meet?" given that day."""
    async with bot.app.db.sessions() as session:
        intro_round = IntroRound(slot=at(day, month=month), started_at=at(day, month=month))
        session.add(intro_round)
        await session.flush()
        intro = IntroGroup(round_id=intro_round.id, created_at=at(day, month=month))
        session.add(intro)
        await session.flush()
        for name, met in group:
            session.add(
                IntroMember(
                    group_id=intro.id, member_id=ids[name], city=CITIES.get(name), met=met,
                    answered_at=at(day, 15, month) if met is not None else None,
                )
            )  # fmt: skip
        await session.commit()


async def test_first_responses_replies_and_introductions_that_met(bot):
    """Seoul gives Mexico City a first response (replying twice: one exchange) and meets it in
    a trio, where ben, without a city, is left out; "=1+1" replies in a Nairobi thread (a
    reply in one's own thread is no exchange); Nairobi and Mexico City met; Nairobi and Seoul
    did not, and a meeting in February is February's."""
    bot.clock.now = at(1)
    ids = await settle(bot, {**CITIES, "eve": "=1+1"})
    await answered(bot, "lucia", "jisoo", 2, solved=False)
    root = await bot.say("kofi", "Our budget calendar")
    await bot.say("eve", "Thanks", thread_id=root.message_id)
    await bot.say("kofi", "More detail", thread_id=root.message_id)
    await bot.react("minji", "eyes", root.message_id)
    await bot.app.activity.flush()
    await introduce(bot, ids, 2, ("kofi", True), ("lucia", None))
    await introduce(bot, ids, 3, ("jisoo", None), ("ben", None), ("lucia", True))
    await introduce(bot, ids, 4, ("ama", False), ("minji", None))
    await introduce(bot, ids, 5, ("kofi", None), ("minji", None))
    await introduce(bot, ids, 20, ("kofi", True), ("jisoo", None), month=2)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    table, figures = sheet(book)
    assert table == [
        (CORNER, "=1+1", "Mexico City", "Nairobi", "Seoul", "Total"),
        ("=1+1", 0, 0, 1, 0, 1),
        ("Mexico City", 0, 0, 1, 1, 2),
        ("Nairobi", 0, 1, 0, 0, 1),
        ("Seoul", 0, 2, 0, 0, 2),
        ("Total", 0, 3, 2, 1, 6),
    ]
    assert figures["City pairs connected"][0] == 3
    assert figures["Answers that crossed a city line"][0] is None  # nothing solved
    header = next(r for r in book["Connections"].iter_rows() if r[0].value == CORNER)
    assert all(cell.data_type == "s" for cell in header)
    february = workbook(bot, "2026-02-01", "2026-02-28")
    table, figures = sheet(february)
    assert table[1:] == [("Nairobi", 0, 1, 1), ("Seoul", 1, 0, 1), ("Total", 1, 1, 2)]


async def test_pseudonymous_report_merges_rare_cities_into_other(bot):
    """Nairobi and Seoul have five members each, Mexico City and Lima one: in a pseudonymous
    report the two become one "other" row and column, and Seoul-Mexico City and Seoul-Lima
    one pair."""
    await answers(bot)
    await settle(bot, {"n1": "Nairobi", "n2": "Nairobi", "n3": "NAIROBI", "s1": "Seoul",
                       "s2": "Seoul", "s3": "Seoul", "rosa": "Lima"})  # fmt: skip
    await answered(bot, "rosa", "minji", 7)
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)

    plain, figures = sheet(workbook(bot, "2026-03-01", "2026-03-31"))
    assert plain[0] == (CORNER, "Lima", "Mexico City", "Nairobi", "Seoul", "Total")
    assert plain[-2] == ("Seoul", 1, 1, 0, 0, 2)
    assert figures["City pairs connected"][0] == 3

    book = workbook(bot, "2026-03-01", "2026-03-31", pseudonymous=True)
    table, figures = sheet(book)
    assert table == [
        (CORNER, "Nairobi", "Seoul", "other", "Total"),
        ("Nairobi", 1, 2, 0, 3),
        ("Seoul", 0, 0, 2, 2),
        ("other", 0, 0, 0, 0),
        ("Total", 1, 2, 2, 5),
    ]
    assert figures["City pairs connected"][0] == 2
    assert figures["Answers that crossed a city line"][0] == pytest.approx(4 / 5)
    assert {row[0]: row[1] for row in rows(book, "Overview")}[
        "Cities connected (pairs of cities)"
    ] == 2
    everything = " ".join(
        str(value) for ws in book for row in ws.iter_rows(values_only=True) for value in row
    )
    assert "Lima" not in everything and "Mexico" not in everything


@pytest.mark.slow
@pytest.mark.one_database  # what LibreOffice reads does not depend on the database
async def test_libreoffice_opens_the_workbook_with_connections(settings, clock, tmp_path):
    from tests.harness import BotHarness

    bot = await BotHarness("console", settings, clock).start()
    try:
        await answers(bot)
        period = parse_period(["2026-03-01", "2026-03-31"], bot.clock().date(), "UTC")
        buffer = io.BytesIO()
        write_report(bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone="UTC")
    finally:
        await bot.close()
    path = tmp_path / "connections.xlsx"
    path.write_bytes(buffer.getvalue())
    assert "Connections" in load_workbook(path).sheetnames
    if shutil.which("soffice") is None:
        if os.environ.get("CI"):
            pytest.fail("soffice is missing in CI (scripts/install-libreoffice.sh installs it)")
        pytest.skip("LibreOffice is not installed")
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(to_pdf(path)).pages)
    assert "Who learns from whom" in text and "Mexico City" in text
