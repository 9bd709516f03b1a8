"""Members' data rights, on every platform name and database: `mydata` sends everything held
about the member as a workbook; `forgetme` explains; `forgetme confirm` erases the member
and nobody else, and later reports no longer name them."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import history
from bot.models import (
    Activity,
    AuditEntry,
    Base,
    Call,
    Event,
    KnowledgeEntry,
    Member,
    Notice,
    Question,
)
from handlers.link.service import _member_columns
from handlers.privacy.erase import ERASED, ERASED_ANSWER, FORMER_MEMBER
from handlers.questions import jobs
from handlers.reports.build import write_report
from handlers.reports.commands import XLSX
from handlers.reports.period import parse_period
from tests.harness import BotHarness, user_id

Q1 = "How do cities phase a property revaluation?"
Q2 = "Which e-procurement tool works for small towns?"
FORMULA = "=SUM(A1)"
NOTE = "+1 I led our revaluation"  # a formula too, to a spreadsheet
SENT = "I sent you your data as a direct message."


def root_of(bot: BotHarness, question_id: int) -> str:
    return next(s for s in bot.posts_in() if f"Question #{question_id}**" in s.text).message_id


async def community(bot: BotHarness) -> None:
    """amina, whose data is asked for, among kofi and lena. amina asks #1 (kofi answers it)
    and answers kofi's #2 beside lena; both sign up for an event and a call."""
    bot.app.settings.store_message_text = True
    await bot.say("fac", "!topic add budgeting: budget, revaluation")
    for name in ("kofi", "lena"):
        await bot.join(name)
        await bot.dm(name, "stop")
    await bot.say("kofi", "!profile city Seoul")
    await bot.say("kofi", "!expertise add budgeting")
    await bot.join("amina")
    for answer in ("Nairobi", "City of Nairobi, budget officer", "budgeting", "procurement"):
        await bot.dm("amina", answer)
    await bot.say("amina", "!profile timezone Africa/Nairobi")
    await bot.say("amina", f"!profile role {FORMULA}")
    await bot.say("amina", f"!ask {Q1}")
    await bot.say("kofi", "Over three years.", thread_id=root_of(bot, 1))
    await bot.say("amina", "!solved 1")
    await bot.say("kofi", f"!ask {Q2}")
    await bot.say("amina", "We use Kobotoolbox.", thread_id=root_of(bot, 2))
    await bot.say("lena", "A spreadsheet.", thread_id=root_of(bot, 2))
    await bot.say("kofi", "!solved 2")
    await bot.say("fac", '!event add 2026-03-20 15:00 "Revaluation deep dive"')
    await bot.say("fac", '!call add 2026-03-30 "Peer review panel"')
    for name, answer, note in (("amina", "yes", NOTE), ("kofi", "maybe", "Seoul's reform")):
        await bot.say(name, f"!rsvp 1 {answer}")
        await bot.say(name, f"!interest 1 {note}")
    await bot.say("amina", "!link")
    await bot.say("fac", f"!role grant {bot.mention('amina')} coordinator")
    await bot.say("amina", "Hello from Nairobi, does anyone have a revaluation template?")
    await bot.say("kofi", "Is there a budget calendar for small towns?")
    bot.clock.advance(hours=13)
    await bot.app.activity.flush()
    await jobs.follow_up(bot.app.services())  # offers to route both
    await bot.deliver()
    bot.clear()


async def member_id(bot: BotHarness, name: str) -> int:
    async with bot.app.db.sessions() as session:
        return await session.scalar(select(Member.id).where(Member.display_name == name))


def sheets(data: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


async def test_mydata_sends_every_section(bot):
    await community(bot)
    await bot.say("amina", "!mydata")
    assert bot.last_reply_to("amina") == SENT
    [sent] = bot.files_to("amina")
    assert sent.filename.endswith(".xlsx") and sent.mimetype == XLSX
    book = sheets(sent.data)
    assert list(book) == ["Profile", "Identities", "Expertise", "Onboarding", "Questions",
                          "Library", "Events", "Calls", "Introductions", "Roles",
                          "Activity"]  # fmt: skip
    profile = dict(book["Profile"][1:])
    assert profile["Display name"] == "amina"
    assert (profile["City"], profile["Organisation"]) == ("Nairobi", "City of Nairobi")
    assert (profile["Role"], profile["Timezone"]) == (FORMULA, "Africa/Nairobi")
    assert profile["Joined (UTC)"] == datetime(2026, 3, 2, 9, 0)
    assert profile["Away"] == "no"
    assert book["Identities"] == [
        ("Platform", "User id", "Display name"),
        (bot.platform_name, user_id(bot.platform_name, "amina"), "amina"),
    ]
    assert book["Expertise"][1:] == [("offers", "budgeting"), ("wants", "procurement")]
    [(platform, _, step, status, *_)] = book["Onboarding"][1:]
    assert (platform, step, status) == (bot.platform_name, 4, "done")
    [(qid, asked, solved, status, text)] = book["Questions"][1:]
    assert (qid, status, text) == (1, "solved", Q1) and asked <= solved
    created, answer = book["Library"][1:]
    assert created[:3] == (1, "created by you", Q1)
    assert created[4].splitlines() == [Q1, "", "kofi: Over three years."]
    assert answer == (2, "your answer", Q2, None, "We use Kobotoolbox.")
    assert [row[1:4:2] for row in book["Events"][1:]] == [("Revaluation deep dive", "yes")]
    [call] = book["Calls"][1:]
    assert call[1:6] == ("Peer review panel", NOTE, "Nairobi", "City of Nairobi", FORMULA)
    assert [row[::2] for row in book["Roles"][1:]] == [("coordinator", "grant")]
    counts = {(month, kind): n for month, kind, n in book["Activity"][1:]}
    assert counts[("2026-03", "message")] == 1 and counts[("2026-03", "reply")] == 1
    assert counts[("2026-03", "direct")] == 4 and counts[("2026-03", "join")] == 1
    cells = load_workbook(io.BytesIO(sent.data))
    risky = [c for ws in cells.worksheets for row in ws.iter_rows() for c in row
             if str(c.value).startswith(("=", "+", "-", "@"))]  # fmt: skip
    assert {FORMULA, NOTE} <= {c.value for c in risky}  # (and Matrix's @user ids)
    assert all(c.data_type == "s" for c in risky)  # text, not formulas


async def test_mydata_for_a_newcomer_says_nothing_is_held(bot):
    await bot.say("ben", "!mydata")
    assert bot.last_reply_to("ben") == SENT
    book = sheets(bot.files_to("ben")[0].data)
    assert book["Questions"] == [("Id", "Asked (UTC)", "Solved (UTC)", "Status", "Question"),
                                 ("Nothing held.", None, None, None, None)]  # fmt: skip


async def snapshot(bot: BotHarness) -> dict[str, list[tuple]]:
    """Every row of every table, in key order."""
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        return {
            table.name: [
                tuple(row)
                for row in await session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


async def test_forgetme_explains_and_changes_nothing(bot):
    await community(bot)
    before = await snapshot(bot)
    await bot.say("amina", "!forgetme")
    answer = bot.last_reply_to("amina")
    assert "`forgetme confirm`" in answer and "with no name attached" in answer
    await bot.say("amina", "!forgetme now")
    assert "type exactly `forgetme confirm`" in bot.last_reply_to("amina")
    after = await snapshot(bot)
    logged = len(before["activity"])
    assert after.pop("activity")[:logged] == before.pop("activity")  # one row more: the command
    after.pop("handled_events"), before.pop("handled_events")
    assert after == before


# Columns that hold a member id; a row holding amina's is hers.
MEMBER_COLUMNS = [
    Member.__table__.c.id,
    *_member_columns(),
    Question.__table__.c.first_responder_id,
    KnowledgeEntry.__table__.c.created_by,
    Event.__table__.c.created_by,
    Call.__table__.c.created_by,
    Notice.__table__.c.member_id,
]


def holding(tables: dict[str, list[tuple]], member: int, theirs: bool) -> dict[str, list]:
    """In every table, the rows holding the member's id (`theirs`), or the others."""
    found = {}
    for table in Base.metadata.sorted_tables:
        positions = [n for n, c in enumerate(table.columns) if c in MEMBER_COLUMNS]
        found[table.name] = [
            row for row in tables[table.name] if any(row[n] == member for n in positions) == theirs
        ]
    return found


async def test_forgetme_confirm_erases_the_member_and_nobody_else(bot):
    await community(bot)
    amina = await member_id(bot, "amina")
    logged = await activity_of(bot, amina)
    before = await snapshot(bot)
    await bot.say("amina", "!forgetme confirm")
    assert "erased your data" in bot.last_reply_to("amina")
    after = await snapshot(bot)
    had, has = holding(before, amina, True), holding(after, amina, True)
    for table in ("identities", "expertise", "onboarding", "link_codes", "roles",
                  "question_offers"):  # fmt: skip
        assert had[table] and not has[table], table
    assert has["event_rsvps"] == had["event_rsvps"]  # sign-ups stay, nameless
    [interest] = has["call_interests"]
    assert had["call_interests"][0][2] and interest[2:6] == ("", None, None, None)
    async with bot.app.db.sessions() as session:
        member = await session.get(Member, amina)
        questions = {q.id: q.text for q in await session.scalars(select(Question))}
        entries = {e.id: e for e in await session.scalars(select(KnowledgeEntry))}
        [audit] = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "forget"))
        ).all()
    assert (member.display_name, member.name_key) == (FORMER_MEMBER, "former member")
    assert (member.city, member.city_key, member.org, member.role_title, member.timezone) == (
        (None,) * 5
    )
    assert member.erased_at == bot.clock()
    assert (audit.at, audit.actor_id, audit.subject_id) == (bot.clock(), amina, amina)
    assert questions == {1: ERASED, 2: Q2}
    assert list(entries) == [2]  # hers is gone; her answer in kofi's is
    assert entries[2].body.splitlines() == [Q2, "", ERASED_ANSWER, "lena: A spreadsheet."]
    kept = await activity_of(bot, amina)
    assert [(kind, ts) for kind, ts, _ in kept][: len(logged)] == [
        (kind, ts) for kind, ts, _ in logged
    ]  # counts stay
    assert any(text for *_, text in logged) and not any(text for *_, text in kept)
    untouched, changed = holding(before, amina, False), holding(after, amina, False)
    columns = [c.name for c in KnowledgeEntry.__table__.columns]
    edited = {columns.index(name) for name in ("body", "body_terms") if name in columns}
    for table in (untouched, changed):  # the body, and what is indexed of it, lose her answer
        table["knowledge_entries"] = [
            tuple(v for n, v in enumerate(r) if n not in edited) for r in table["knowledge_entries"]
        ]
        table.pop("handled_events")
    hers = {row[0] for row in had["knowledge_entries"]}  # their topics go with them
    untouched["knowledge_topics"] = [r for r in untouched["knowledge_topics"] if r[0] not in hers]
    (fingerprint,) = [r for r in changed["kv"] if r[0] == history.ERASED]  # no import revives
    assert fingerprint[1] != "amina" and "amina" not in str(fingerprint)
    changed["kv"].remove(fingerprint)
    assert changed == untouched
    await bot.say("ben", "!search Kobotoolbox")
    assert "Nothing in the library matches" in bot.last_reply_to("ben")
    await bot.say("ben", "!search spreadsheet")
    assert f"#2 {Q2}" in bot.last_reply_to("ben")


async def activity_of(bot: BotHarness, member: int) -> list[tuple]:
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        rows = await session.execute(
            select(Activity.kind, Activity.ts, Activity.text)
            .where(Activity.member_id == member)
            .order_by(Activity.id)
        )
        return [tuple(row) for row in rows]


async def test_after_forgetme_the_account_is_a_stranger(bot):
    await community(bot)
    amina = await member_id(bot, "amina")
    await bot.say("amina", "!forgetme confirm")
    await bot.say("amina", "!profile")
    profile = bot.last_reply_to("amina")
    assert "City: not set" in profile and "Organisation: not set" in profile
    assert "Can help with: nothing listed yet" in profile
    async with bot.app.db.sessions() as session:
        again = await session.scalar(select(Member.id).where(Member.display_name == "amina"))
        count = await session.scalar(select(func.count()).select_from(Member))
    assert again is not None and again != amina
    await bot.say("fac", f"!profile {bot.mention('amina')}")
    assert "City: not set" in bot.last_reply_to("fac")
    assert count == 5  # fac, kofi, lena, the former member, and amina's account seen anew


def workbook_text(source: str | Path | io.BytesIO) -> str:
    """Every cell of a workbook, as one lowercase text."""
    book = load_workbook(source)
    return "\n".join(
        str(value)
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
        for value in row
        if value is not None
    ).lower()


def report_text(bot: BotHarness) -> str:
    """A report pulled now, as text."""
    today = bot.clock().astimezone(ZoneInfo(bot.settings.timezone)).date()
    period = parse_period([], today, bot.settings.timezone)
    buffer = io.BytesIO()
    write_report(
        bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone=bot.settings.timezone
    )
    return workbook_text(buffer)


async def test_a_report_after_forgetme_does_not_name_the_member(bot):
    await community(bot)
    secrets = ("amina", "nairobi", FORMULA.lower(), "phase a property revaluation")
    before = report_text(bot)
    assert all(word in before for word in secrets)
    await bot.say("amina", "!forgetme confirm")
    after = report_text(bot)
    assert [word for word in secrets if word in after] == []
    assert FORMER_MEMBER.lower() in after and "seoul" in after and "lena" in after


async def test_mydata_and_forgetme_confirm_take_no_words(bot):
    await bot.say("ben", "!mydata please")
    assert bot.last_reply_to("ben") == "Just `mydata`.\nUsage: `mydata`"
    assert bot.files_to("ben") == []
    await bot.say("ben", "!forgetme confirm now")
    assert bot.last_reply_to("ben") == "Just `forgetme confirm`.\nUsage: `forgetme confirm`"
    await bot.say("ben", "!forgetme please")
    assert bot.last_reply_to("ben") == (
        "To erase your data, type exactly `forgetme confirm`.\nUsage: `forgetme`"
    )
    assert await member_id(bot, "ben") is not None  # not erased
