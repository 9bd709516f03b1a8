"""The engagement workbook against a small community whose figures are worked out by hand."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot import members
from bot.models import AuditEntry, PromptRun, Question
from handlers.reports.build import write_report
from handlers.reports.period import parse_period


def at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


async def community(bot) -> dict[str, int]:
    """March 2026 (and one post in February). Worked out by hand:
    questions answered after 2 h, 24 h and 72 h, one never; alice, bob and carol join on
    March 2 and post again within a week (retained week 1); bob posts 23 days after joining
    (retained week 4); a prompt gets three replies from two members."""
    bot.clock.now = at(10, month=2)
    await bot.say("olga", "Hello from February")
    bot.clock.now = at(2)
    for name in ("alice", "bob", "carol"):
        await bot.join(name)
    bot.clock.now = at(2, 10)
    q1 = await bot.say("alice", "How do you phase a property revaluation?")
    bot.clock.now = at(2, 11)
    await bot.say("alice", "Adding detail", thread_id=q1.message_id)  # the asker: not a response
    bot.clock.now = at(2, 12)
    await bot.say("bob", "Over three years", thread_id=q1.message_id)  # 2 h
    bot.clock.now = at(3)
    q2 = await bot.say("alice", "Which e-procurement tool?")
    bot.clock.now = at(3, 10)
    await bot.react("bob", "eyes", q2.message_id)  # reactions are not responses
    bot.clock.now = at(4)
    await bot.say("carol", "We use an open one", thread_id=q2.message_id)  # 24 h
    bot.clock.now = at(5)
    q3 = await bot.say("bob", "Green bonds, anyone?")
    bot.clock.now = at(6)
    q4 = await bot.say("carol", "Citizens' budget examples?")  # never answered
    bot.clock.now = at(8)
    await bot.say("alice", "We issued one in 2024", thread_id=q3.message_id)  # 72 h
    bot.clock.now = at(10, 10)
    await bot.say("alice", "Our arrears tracker", thread_id="P1")
    bot.clock.now = at(10, 11)
    await bot.say("carol", "A spreadsheet", thread_id="P1")
    bot.clock.now = at(11)
    await bot.say("carol", "And a dashboard", thread_id="P1")
    bot.clock.now = at(25)
    await bot.say("bob", "Back from the academy")
    await bot.app.activity.flush()
    ids = {}
    async with bot.app.db.sessions() as session:
        channel = await members.resolve_channel(session, bot.channel("general"))
        for key, (name, message, asked) in {
            "q1": ("alice", q1, at(2, 10)),
            "q2": ("alice", q2, at(3)),
            "q3": ("bob", q3, at(5)),
            "q4": ("carol", q4, at(6)),
        }.items():
            asker = await members.resolve(session, bot.user(name))
            question = Question(
                asker_id=asker.id, channel_id=channel.id, message_id=message.message_id,
                text=message.text, asked_at=asked,
            )  # fmt: skip
            session.add(question)
            await session.flush()
            ids[key] = question.id
        await session.execute(
            update(Question).where(Question.id == ids["q1"]).values(solved_at=at(2, 13))
        )
        session.add(
            PromptRun(
                channel_id=channel.id, message_id="P1", text="Share a tool for arrears.",
                posted_at=at(10),
            )
        )  # fmt: skip
        await session.commit()
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    return ids


def workbook(bot, *words: str, pseudonymous: bool = False):
    period = parse_period(list(words), bot.clock().date(), "UTC")
    buffer = io.BytesIO()
    write_report(
        bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone="UTC",
        pseudonymous=pseudonymous, community=bot.settings.community_name,
    )  # fmt: skip
    buffer.seek(0)
    return load_workbook(buffer)


def rows(book, sheet: str) -> list[tuple]:
    return list(book[sheet].iter_rows(values_only=True))


async def test_summary_figures_match_the_hand_count(bot):
    await community(bot)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    summary = {row[0]: row[1:] for row in rows(book, "Summary")[1:]}
    expected = {
        "Posting-active members": (3, 1),
        "New members": (3, 1),
        "Retained in week 1 (new members)": (3, 0),
        "Messages": (5, 1),
        "Replies": (7, 0),
        "Reactions": (1, 0),
        "Questions asked": (4, 0),
        "Questions answered": (3, 0),
        "Questions solved": (1, 0),
        "Prompts posted": (1, 0),
        "Prompt responses": (3, 0),
        "Unique prompt responders": (2, 0),
    }
    for figure, (now, before) in expected.items():
        assert summary[figure][:3] == (now, before, now - before), figure
    # olga joined on February 10: 28 days had not passed by the end of February
    assert summary["Retained in week 4 (new members)"][:3] == (1, "not yet", None)
    assert summary["Median hours to first response"][0] == pytest.approx(24)
    # PERCENTILE.INC of [2, 24, 72] at 0.9: 24 + 0.8 * (72 - 24)
    assert summary["90th percentile hours to first response"][0] == pytest.approx(62.4)
    assert summary["Median hours to first response"][1] is None
    assert summary["Share unanswered after 24 hours"][0] == pytest.approx(2 / 4)  # q3, q4
    assert summary["Share unanswered after 72 hours"][0] == pytest.approx(1 / 4)  # q4
    heading = [row[0] for row in rows(book, "Summary")[:3]]
    assert heading == [
        "Engagement summary: Municipal Finance Practice",
        "2026-03-01 to 2026-03-31 (31 days), compared with the 31 days before "
        "(2026-01-29 to 2026-02-28)",
        "Pulled 2026-04-01 00:00 (UTC)",
    ]
    assert rows(book, "Summary")[4] == ("Figure", "This period", "Previous period", "Change")
    assert summary["Members"][:3] == (4, 1, 3)


async def test_every_sheet_has_its_rows(bot):
    ids = await community(bot)
    book = workbook(bot, "2026-03-01", "2026-03-31")
    assert book.sheetnames == [
        "Overview",
        "Summary",
        "Weekly",
        "Charts",
        "Members",
        "Channels",
        "Questions",
        "Prompts",
        "Knowledge",
        "Events",
        "Calls",
        "Connections",
        "Definitions",
    ]
    weekly = {
        row[0].date().isoformat(): row[1:]
        for row in rows(book, "Weekly")[1:]
        if isinstance(row[0], datetime)
    }
    assert list(weekly) == [f"2026-{d}" for d in ("02-23", "03-02", "03-09", "03-16", "03-23",
                                                   "03-30")]  # fmt: skip
    # days in the period; active, new, messages, replies, reactions, asked, answered, prompts
    assert weekly["2026-02-23"][0] == 1 and weekly["2026-03-30"][0] == 2  # partial weeks
    assert weekly["2026-03-02"] == (7, 3, 3, 4, 4, 1, 4, 3, 0)
    assert weekly["2026-03-09"] == (7, 2, 0, 0, 3, 0, 0, 0, 3)
    assert weekly["2026-03-23"] == (7, 1, 0, 1, 0, 0, 0, 0, 0)
    assert rows(book, "Weekly")[-1][0].startswith("A week with fewer than 7 days")
    assert len(book["Charts"]._charts) == 3 and len(book["Overview"]._charts) == 1

    people = {row[0]: row for row in rows(book, "Members")[1:]}
    assert set(people) == {"alice", "bob", "carol", "olga"}
    alice = people["alice"]
    assert alice[4] == datetime(2026, 3, 2, 9, 0)  # joined, local time without zone
    # messages, replies, reactions, asked, answered, prompts answered
    assert alice[7:13] == (2, 3, 0, 2, 1, 1)
    assert alice[14] == "new" and people["olga"][14] == "quiet"

    assert rows(book, "Channels")[1][1:] == ("#general", 3, 5, 7, 1, 3)
    questions = {row[0]: row for row in rows(book, "Questions")[1:]}
    assert questions[ids["q1"]][6] == pytest.approx(2)
    assert questions[ids["q1"]][7] == datetime(2026, 3, 2, 13, 0)
    assert questions[ids["q4"]][5] is None
    assert rows(book, "Prompts")[1][3:] == ("Share a tool for arrears.", 3, 2, 2)
    terms = [row[0] for row in rows(book, "Definitions")]
    assert "Status: dormant" in terms and "Hours to first response" in terms


async def test_sheets_without_data_say_so(bot):
    book = workbook(bot)
    assert rows(book, "Questions")[1][0].startswith("No questions were asked")
    assert rows(book, "Prompts")[1][0].startswith("No discussion prompts")


async def test_values_from_people_are_never_formulas(platform_name, settings, clock):
    from tests.harness import BotHarness

    bot = await BotHarness("console", settings, clock).start()
    awkward = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2", "김민준"]
    for name in awkward:
        await bot.say(name, "hello")
    async with bot.app.db.sessions() as session:
        member = await members.resolve(session, bot.user(awkward[0]))
        member.city = "=1+1"
        await session.commit()
    await bot.app.activity.flush()
    book = workbook(bot)
    cells = {c.value: c for c in book["Members"]["A"][1:]}
    assert set(cells) == set(awkward)
    assert all(cell.data_type == "s" for cell in cells.values())
    assert book["Members"]["B2"].data_type == "s" or "=1+1" not in str(book["Members"]["B2"].value)
    city = [row[1] for row in rows(book, "Members") if row[0] == awkward[0]]
    assert city == ["=1+1"]
    await bot.close()


async def test_pseudonyms_are_stable_and_hide_names(bot):
    await community(bot)
    first = workbook(bot, "2026-03-01", "2026-03-31", pseudonymous=True)
    second = workbook(bot, "2026-03-01", "2026-03-31", pseudonymous=True)
    names = [row[0] for row in rows(first, "Members")[1:]]
    assert names == [row[0] for row in rows(second, "Members")[1:]]
    assert all(name.startswith("Member ") for name in names) and len(set(names)) == 4
    assert not {"alice", "bob"} & {row[3] for row in rows(first, "Questions")[1:]}


async def test_pseudonymous_reports_show_only_widely_shared_cities_orgs_and_roles(bot):
    """Names alone are not enough: in a small community a city, an organisation or a role
    can single a person out, so a pseudonymous report shows one only when five members share
    it; join dates become months and activity times days."""
    bot.clock.now = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)
    await bot.join("solo")
    await bot.say("fac", "hello")
    for i in range(5):
        await bot.say(f"m{i}", "hello")
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        for i in range(5):
            member = await members.resolve(session, bot.user(f"m{i}"))
            member.city, member.org, member.role_title = " nairobi", "City Treasury", "Analyst"
        solo = await members.resolve(session, bot.user("solo"))
        solo.city, solo.org, solo.role_title = "Seoul", "Seoul Metropolitan Government", "CFO"
        await session.commit()
    bot.clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    plain = {row[0]: row for row in rows(workbook(bot, "2026-03-01", "2026-03-31"), "Members")}
    assert plain["solo"][1:4] == ("Seoul", "Seoul Metropolitan Government", "CFO")
    assert plain["solo"][4] == datetime(2026, 3, 2, 9, 17)

    book = workbook(bot, "2026-03-01", "2026-03-31", pseudonymous=True)
    shown = [row[1:4] for row in rows(book, "Members")[1:]]
    assert shown.count((" nairobi", "City Treasury", "Analyst")) == 5
    assert ("other", "other", "other") in shown
    everything = " ".join(
        str(value) for sheet in book for row in sheet.iter_rows(values_only=True) for value in row
    )
    for rare in ("Seoul", "Metropolitan", "CFO", "solo"):
        assert rare not in everything
    joined = {row[4] for row in rows(book, "Members")[1:]} - {None}
    assert joined == {datetime(2026, 3, 1)}


async def test_report_command_sends_the_file_privately_and_records_the_pull(bot):
    await community(bot)
    await bot.say("coord", "!report 2026-03-01 2026-03-31")
    assert bot.last_reply_to("coord") == (
        "I sent you the report for 2026-03-01 to 2026-03-31 as a direct message."
    )
    [sent] = bot.files_to("coord")
    assert sent.filename == "engagement-2026-03-01-to-2026-03-31.xlsx"
    summary = {row[0]: row[1] for row in rows(load_workbook(io.BytesIO(sent.data)), "Summary")}
    assert summary["Posting-active members"] == 3
    assert all(s.file is None for s in bot.posts_in("general"))
    async with bot.app.db.sessions() as session:
        pull = await session.scalar(select(AuditEntry))
        assert (pull.action, pull.detail) == ("report", "2026-03-01 to 2026-03-31")
        assert pull.actor_id is not None
    await bot.say("alice", "!report")
    assert bot.last_reply_to("alice") == "Only facilitators and coordinators can use `report`."
    await bot.say("coord", "!report 2026-02-30")
    assert bot.last_reply_to("coord").startswith("I did not understand `2026-02-30`")
    await bot.say("coord", "!report 2026-03-01 2026-03-31 quarterly")
    assert bot.last_reply_to("coord").startswith(
        "I did not understand `quarterly`: give at most two dates, from and to."
    )
    await bot.say("coord", "!report 2026-03-01 pseudo")
    assert bot.last_reply_to("coord").startswith("I did not understand `pseudo`")
    await bot.say("coord", "!report 2026-03-31 2026-03-01")
    assert bot.last_reply_to("coord").startswith("The start date is after the end date.")
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1


async def test_stats(bot):
    await community(bot)
    bot.clock.now = at(26)
    await bot.say("fac", "!stats 30")
    answer = bot.last_reply_to("fac")
    assert answer.startswith("Last 30 days (2026-02-25 to 2026-03-26): 3 posting-active members")
    assert "Questions: 4 asked, 3 answered, median time to first response 24.0 h" in answer
    await bot.say("fac", "!stats lots")
    assert bot.last_reply_to("fac").startswith("Give a number of days")


@pytest.mark.slow
def test_demo_then_report_and_libreoffice_converts(tmp_path):
    env = {**os.environ, "CONVENER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    run = [sys.executable, "-m", "bot.cli"]
    demo = subprocess.run([*run, "demo"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("Demo community ready: 420 members")
    again = subprocess.run([*run, "demo"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 1 and "already has 420 members" in again.stderr
    assert "convener demo --fresh demo.db" in again.stderr
    fresh = subprocess.run(
        [*run, "demo", "--fresh", "other/demo.db"], env=env, capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert "Next: CONVENER_DATABASE_URL=sqlite:///other/demo.db convener report" in fresh.stdout
    report = subprocess.run(
        [*run, "report", "-o", "demo.xlsx", "--pdf"], env=env, capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    book = load_workbook(tmp_path / "demo.xlsx", read_only=True)
    assert sum(1 for _ in book["Members"].iter_rows()) > 300
    check_print_settings(tmp_path / "demo.xlsx")
    if shutil.which("soffice") is None:
        assert "no PDF: LibreOffice (soffice) is not installed" in report.stderr
        if os.environ.get("CI"):
            pytest.fail("soffice is missing in CI (scripts/install-libreoffice.sh installs it)")
        pytest.skip("LibreOffice is not installed")
    assert f"wrote {tmp_path / 'demo.pdf'}" in report.stdout
    pages = pages_per_sheet(tmp_path / "demo.pdf")
    assert pages["Overview"] == 1 and pages["Summary"] == 1
    assert pages["Charts"] == 3  # one page each
    assert pages["Definitions"] <= 2
    assert pages["Weekly"] == 1


def check_print_settings(path) -> None:
    book = load_workbook(path)
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert "&P" in ws.oddFooter.center.text, ws.title
        assert ws.page_margins.left == 0.5
        if ws.title != "Charts":
            assert ws.print_title_rows, ws.title
    for one_page in ("Overview", "Summary"):
        assert book[one_page].page_setup.fitToHeight == 1
    assert book["Members"].page_setup.fitToHeight == 0


def pages_per_sheet(pdf) -> dict[str, int]:
    """Pages by the sheet named in each page's footer ("Summary, page 2 of 19")."""
    from pypdf import PdfReader

    counts: dict[str, int] = {}
    for page in PdfReader(pdf).pages:
        found = re.search(r"(\w+), page \d+ of \d+", page.extract_text())
        assert found, page.extract_text()[:200]
        counts[found.group(1)] = counts.get(found.group(1), 0) + 1
    return counts


def test_tallies_group_rare_values_as_other():
    from handlers.reports.queries import tally

    def shown(field, value):
        return value if (field, value) == ("city", "Nairobi") else "other"

    pairs = [("Nairobi", 5), ("Seoul", 1), ("Lima", 2)]
    assert tally(pairs) == "Nairobi 5, Lima 2, Seoul 1"
    assert tally(pairs, shown, "city") == "Nairobi 5, other 3"


async def test_report_and_stats_read_their_declared_arguments(bot):
    await bot.say("coord", "!report pseudonymous")
    assert bot.last_reply_to("coord") == (
        "I sent you the report for 2026-02-01 to 2026-03-02 as a direct message."
    )
    [sent] = bot.files_to("coord")
    assert sent.filename == "engagement-2026-02-01-to-2026-03-02.xlsx"
    async with bot.app.db.sessions() as session:
        pull = await session.scalar(select(AuditEntry))
        assert pull.detail == "2026-02-01 to 2026-03-02, pseudonymous"
    usage = "\nUsage: `stats [days]`"
    await bot.say("fac", "!stats 7 8")
    assert bot.last_reply_to("fac") == "Give a number of days, for example: stats 30" + usage
    await bot.say("fac", "!stats 0")
    assert bot.last_reply_to("fac") == "Choose between 1 and 1095 days." + usage
    await bot.say("fac", "!stats")
    assert bot.last_reply_to("fac").startswith("Last 7 days (2026-02-24 to 2026-03-02):")
