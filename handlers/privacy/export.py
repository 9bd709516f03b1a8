"""`mydata`'s workbook: everything Convener holds about one member, one sheet per kind,
written by the core writer (`bot.workbook`). Every text is a text cell, never a formula;
times are in UTC; activity is counted by month and kind, not listed row by row. Sheet names,
headers and Convener's own words are in the member's language; what is stored (statuses,
kinds, what people wrote) is shown as it is kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.commands import excerpt
from bot.i18n import ENGLISH, Message, _, render
from bot.models import (
    Activity,
    CalendarFeed,
    Call,
    CallInterest,
    Event,
    EventRsvp,
    Expertise,
    Identity,
    IntroGroup,
    IntroMember,
    IntroOptOut,
    IntroRound,
    KnowledgeEntry,
    LibraryCandidate,
    Member,
    Onboarding,
    Question,
    Role,
    Topic,
)
from bot.workbook import Sheet, Text, new_book, to_bytes
from handlers.privacy.authorship import answers_by

QUESTION, TITLE, TEXT, NOTE = _("Question"), _("Title"), _("Text"), _("Note")
LONG = (QUESTION, TITLE, TEXT, NOTE)  # columns shown wide
WIDE = 60
PLATFORM, USER_ID, DISPLAY_NAME = _("Platform"), _("User id"), _("Display name")
ROLE, CITY, ORGANISATION = _("Role"), _("City"), _("Organisation")
UPDATED = _("Updated (UTC)")

Section = tuple[Message, list[Message], list[tuple]]


def workbook(session: Session, member_id: int, language: str = ENGLISH) -> bytes:
    """The member's data as an .xlsx file, in `language`."""
    book = new_book()
    for title, names, rows in sections(session, member_id):
        columns = [(name, WIDE if name in LONG else 18, None) for name in names]
        sheet = Sheet(book, title, columns, language=language)
        for row in rows:
            sheet.append([cell(value, language) for value in row])
        if not rows:
            sheet.note(_("Nothing held."))
        sheet.finish()
    return to_bytes(book)


def cell(value: object, language: str = ENGLISH) -> object:
    """Text from people as a text cell (`=1+1` stays text); Convener's words in `language`;
    times as UTC without the zone (Excel has none)."""
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, Message):
        return Text(render(value, language))
    return value


def sections(session: Session, member_id: int) -> list[Section]:
    def rows(query) -> list[tuple]:
        return [tuple(row) for row in session.execute(query)]

    mine = Member.id == member_id
    return [
        (_("Profile"), [_("Field"), _("Value")],
         profile(session.scalars(select(Member).where(mine)).one(),
                 session.scalar(select(IntroOptOut.opted_out_at)
                                .where(IntroOptOut.member_id == member_id)),
                 session.scalar(select(CalendarFeed.created_at)
                                .where(CalendarFeed.member_id == member_id)))),
        (_("Identities"), [PLATFORM, USER_ID, DISPLAY_NAME], rows(
            select(Identity.platform, Identity.user_id, Identity.display_name)
            .where(Identity.member_id == member_id).order_by(Identity.platform, Identity.user_id)
        )),
        (_("Expertise"), [_("Kind"), _("Topic")], rows(
            select(Expertise.kind, Topic.name).join(Topic, Topic.id == Expertise.topic_id)
            .where(Expertise.member_id == member_id).order_by(Expertise.kind, Topic.key)
        )),
        (_("Onboarding"), [PLATFORM, USER_ID, _("Step"), _("Status"), _("Started (UTC)"),
                           UPDATED], rows(
            select(Onboarding.platform, Onboarding.user_id, Onboarding.step, Onboarding.status,
                   Onboarding.started_at, Onboarding.updated_at)
            .where(Onboarding.member_id == member_id)
        )),
        (_("Questions"), [_("Id"), _("Asked (UTC)"), _("Solved (UTC)"), _("Status"), QUESTION],
         rows(
            select(Question.id, Question.asked_at, Question.solved_at, Question.status,
                   Question.text)
            .where(Question.asker_id == member_id).order_by(Question.id)
        )),
        (_("Library"), [_("Entry"), _("Yours"), TITLE, _("Link"), TEXT],
         library(session, member_id)),
        (_("Events"), [_("Event"), TITLE, _("Starts (UTC)"), _("Answer"), _("Answered (UTC)")],
         rows(
            select(Event.id, Event.title, Event.starts_at, EventRsvp.answer, EventRsvp.answered_at)
            .join(EventRsvp, EventRsvp.event_id == Event.id)
            .where(EventRsvp.member_id == member_id).order_by(Event.starts_at, Event.id)
        )),
        (_("Calls"), [_("Call"), TITLE, NOTE, CITY, ORGANISATION, ROLE, UPDATED,
                      _("Withdrawn (UTC)")], rows(
            select(Call.id, Call.title, CallInterest.note, CallInterest.city, CallInterest.org,
                   CallInterest.role_title, CallInterest.updated_at, CallInterest.withdrawn_at)
            .join(CallInterest, CallInterest.call_id == Call.id)
            .where(CallInterest.member_id == member_id).order_by(Call.id)
        )),
        (_("Introductions"), [_("Introduction"), _("Introduced (UTC)"), _("With"), CITY,
                              _("Met"), _("Answered (UTC)")], introductions(session, member_id)),
        (_("Roles"), [ROLE, _("Granted (UTC)"), _("Source")], rows(
            select(Role.role, Role.granted_at, Role.source)
            .where(Role.member_id == member_id).order_by(Role.role)
        )),
        (_("Activity"), [_("Month (UTC)"), _("Kind"), _("Count")], activity(session, member_id)),
    ]  # fmt: skip


def profile(member: Member, opted_out: datetime | None = None,
            feed: datetime | None = None) -> list[tuple]:  # fmt: skip
    return [
        (DISPLAY_NAME, member.display_name),
        (CITY, member.city),
        (ORGANISATION, member.org),
        (ROLE, member.role_title),
        (_("Timezone"), member.timezone),
        (_("Language"), member.language),
        (_("First seen (UTC)"), member.created_at),
        (_("Joined (UTC)"), member.joined_at),
        (_("Welcomed (UTC)"), member.welcomed_at),
        (_("Away"), _("yes") if member.is_away else _("no")),
        (_("Away until (UTC)"), member.away_until),
        (_("Left introductions (UTC)"), opted_out),
        (_("Calendar feed since (UTC)"), feed),
    ]


def introductions(session: Session, member_id: int) -> list[tuple]:
    """The member's introductions: when, to whom (their names), the member's city then and
    their answer to "did you meet?"."""
    mine = session.execute(
        select(IntroMember.group_id, IntroRound.started_at, IntroMember.city, IntroMember.met,
               IntroMember.answered_at)
        .join(IntroGroup, IntroGroup.id == IntroMember.group_id)
        .join(IntroRound, IntroRound.id == IntroGroup.round_id)
        .where(IntroMember.member_id == member_id)
        .order_by(IntroRound.started_at, IntroMember.group_id)
    ).all()  # fmt: skip
    others: dict[int, list[str]] = {}
    for group_id, name in session.execute(
        select(IntroMember.group_id, Member.display_name)
        .join(Member, Member.id == IntroMember.member_id)
        .where(IntroMember.group_id.in_([row[0] for row in mine]),
               IntroMember.member_id != member_id)
        .order_by(IntroMember.group_id, Member.id)
    ):  # fmt: skip
        others.setdefault(group_id, []).append(name)
    met = {True: _("yes"), False: _("no"), None: None}
    return [
        (group_id, at, ", ".join(others.get(group_id, [])), city, met[answer], answered)
        for group_id, at, city, answer, answered in mine
    ]


def library(session: Session, member_id: int) -> list[tuple]:
    """Entries the member created, whole, then their answers kept in other entries."""
    created = [
        (entry.id, _("created by you"), entry.title, entry.url, entry.body)
        for entry in session.scalars(
            select(KnowledgeEntry)
            .where(KnowledgeEntry.created_by == member_id)
            .order_by(KnowledgeEntry.id)
        )
    ]
    answers: list[tuple] = []
    for entry, mine in answers_by(session, member_id):
        answers += [(entry.id, _("your answer"), entry.title, None, text) for text in mine.values()]
    return created + answers + candidates(session, member_id)


def candidates(session: Session, member_id: int) -> list[tuple]:
    """What the member wrote in threads offered to the library from imported history and not
    decided yet (no entry: none is made until a facilitator keeps one)."""
    found: list[tuple] = []
    for candidate in session.scalars(
        select(LibraryCandidate)
        .where(LibraryCandidate.question.is_not(None))
        .order_by(LibraryCandidate.id)
    ):
        title = excerpt(candidate.question, 200)
        if candidate.asked_by == member_id:
            found.append((None, _("your question, offered to the library"), title, None,
                          candidate.question))  # fmt: skip
        found += [
            (None, _("your answer, offered to the library"), title, None, answer["text"])
            for answer in candidate.answers or []
            if answer.get("member_id") == member_id
        ]
    return found


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
