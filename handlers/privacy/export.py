"""`mydata`'s workbook: everything Convener holds about one member, one sheet per kind,
written by the core writer (`bot.workbook`). Every text is a text cell, never a formula;
times are in UTC; activity is counted by month and kind, not listed row by row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Activity,
    Call,
    CallInterest,
    Event,
    EventRsvp,
    Expertise,
    Identity,
    KnowledgeEntry,
    Member,
    Onboarding,
    Question,
    Role,
    Topic,
)
from bot.workbook import Sheet, Text, new_book, to_bytes
from handlers.privacy.authorship import answers_by

LONG = ("Question", "Title", "Text", "Note")  # columns shown wide
WIDE = 60

Section = tuple[str, list[str], list[tuple]]


def workbook(session: Session, member_id: int) -> bytes:
    """The member's data as an .xlsx file."""
    book = new_book()
    for title, names, rows in sections(session, member_id):
        sheet = Sheet(book, title, [(name, WIDE if name in LONG else 18, None) for name in names])
        for row in rows:
            sheet.append([cell(value) for value in row])
        if not rows:
            sheet.note("Nothing held.")
        sheet.finish()
    return to_bytes(book)


def cell(value: object) -> object:
    """Text from people as a text cell (`=1+1` stays text); times as UTC without the zone
    (Excel has none)."""
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def sections(session: Session, member_id: int) -> list[Section]:
    def rows(query) -> list[tuple]:
        return [tuple(row) for row in session.execute(query)]

    mine = Member.id == member_id
    return [
        ("Profile", ["Field", "Value"], profile(session.scalars(select(Member).where(mine)).one())),
        ("Identities", ["Platform", "User id", "Display name"], rows(
            select(Identity.platform, Identity.user_id, Identity.display_name)
            .where(Identity.member_id == member_id).order_by(Identity.platform, Identity.user_id)
        )),
        ("Expertise", ["Kind", "Topic"], rows(
            select(Expertise.kind, Topic.name).join(Topic, Topic.id == Expertise.topic_id)
            .where(Expertise.member_id == member_id).order_by(Expertise.kind, Topic.key)
        )),
        ("Onboarding", ["Platform", "User id", "Step", "Status", "Started (UTC)",
                        "Updated (UTC)"], rows(
            select(Onboarding.platform, Onboarding.user_id, Onboarding.step, Onboarding.status,
                   Onboarding.started_at, Onboarding.updated_at)
            .where(Onboarding.member_id == member_id)
        )),
        ("Questions", ["Id", "Asked (UTC)", "Solved (UTC)", "Status", "Question"], rows(
            select(Question.id, Question.asked_at, Question.solved_at, Question.status,
                   Question.text)
            .where(Question.asker_id == member_id).order_by(Question.id)
        )),
        ("Library", ["Entry", "Yours", "Title", "Link", "Text"], library(session, member_id)),
        ("Events", ["Event", "Title", "Starts (UTC)", "Answer", "Answered (UTC)"], rows(
            select(Event.id, Event.title, Event.starts_at, EventRsvp.answer, EventRsvp.answered_at)
            .join(EventRsvp, EventRsvp.event_id == Event.id)
            .where(EventRsvp.member_id == member_id).order_by(Event.starts_at, Event.id)
        )),
        ("Calls", ["Call", "Title", "Note", "City", "Organisation", "Role", "Updated (UTC)",
                   "Withdrawn (UTC)"], rows(
            select(Call.id, Call.title, CallInterest.note, CallInterest.city, CallInterest.org,
                   CallInterest.role_title, CallInterest.updated_at, CallInterest.withdrawn_at)
            .join(CallInterest, CallInterest.call_id == Call.id)
            .where(CallInterest.member_id == member_id).order_by(Call.id)
        )),
        ("Roles", ["Role", "Granted (UTC)", "Source"], rows(
            select(Role.role, Role.granted_at, Role.source)
            .where(Role.member_id == member_id).order_by(Role.role)
        )),
        ("Activity", ["Month (UTC)", "Kind", "Count"], activity(session, member_id)),
    ]  # fmt: skip


def profile(member: Member) -> list[tuple]:
    return [
        ("Display name", member.display_name),
        ("City", member.city),
        ("Organisation", member.org),
        ("Role", member.role_title),
        ("Timezone", member.timezone),
        ("First seen (UTC)", member.created_at),
        ("Joined (UTC)", member.joined_at),
        ("Welcomed (UTC)", member.welcomed_at),
        ("Away", "yes" if member.is_away else "no"),
        ("Away until (UTC)", member.away_until),
    ]


def library(session: Session, member_id: int) -> list[tuple]:
    """Entries the member created, whole, then their answers kept in other entries."""
    created = [
        (entry.id, "created by you", entry.title, entry.url, entry.body)
        for entry in session.scalars(
            select(KnowledgeEntry)
            .where(KnowledgeEntry.created_by == member_id)
            .order_by(KnowledgeEntry.id)
        )
    ]
    answers: list[tuple] = []
    for entry, mine in answers_by(session, member_id):
        answers += [(entry.id, "your answer", entry.title, None, text) for text in mine.values()]
    return created + answers


def activity(session: Session, member_id: int) -> list[tuple]:
    if session.get_bind().dialect.name == "postgresql":
        month = func.to_char(func.timezone("UTC", Activity.ts), "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", Activity.ts)
    month = month.label("month")
    return [
        tuple(row)
        for row in session.execute(
            select(month, Activity.kind, func.count())
            .where(Activity.member_id == member_id)
            .group_by(month, Activity.kind)
            .order_by(month, Activity.kind)
        )
    ]
