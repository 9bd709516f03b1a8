"""Calls for expressions of interest: the rules the commands and the job share.

A call's deadline is the end of its day in community time (midnight after it), stored in
UTC. Interest is one row per member and call, with the member's profile as it was when they
expressed it; it can be changed or withdrawn until the deadline, never after. Its note may be
left out (a button or a poll answer says no more than "interested"): an earlier note is then
kept, and a first one is empty.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import home, moments, timezones, topics
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.i18n import Day, Message, Number, _
from bot.models import Call, CallInterest, CallTopic, Member
from bot.types import Action

MAX_TITLE = 200
MAX_NOTE = 2000
LISTED = 20
CHOICES = "choices"  # the kind of the once-only step that closes the announcement's poll
NO_TITLE = _("What is the call about? Give it a title in quotes.")
_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "'": "'"}


def subject(call_id: int) -> str:
    return f"call:{call_id}"


def actions(call_id: int) -> list[Action]:
    """Expressing interest (without a note), as a button or a poll of one answer."""
    return [Action(_("I'm interested"), f"interest {call_id}", poll=True)]


def deadline_of(day: date, zone: str) -> datetime:
    """The end of `day` in `zone` (midnight after it), in UTC."""
    try:
        return timezones.local_moment(day + timedelta(days=1), "00:00", zone)
    except OverflowError:  # 9999-12-31 has no midnight after it
        raise UsageError(
            _("{day} is out of range; choose a date in the coming years.", day=day.isoformat())
        ) from None


def open_until(day: date, zone: str, now: datetime) -> datetime:
    """The deadline of a call open until the end of `day`; CommandError when it has passed."""
    deadline = deadline_of(day, zone)
    if deadline <= now:
        raise CommandError(_("{day} has passed; choose today or a later date.", day=shown(day)))
    return deadline


def last_day(call: Call, zone: str) -> date:
    """The local date a call closes at the end of."""
    return (call.deadline.astimezone(ZoneInfo(zone)) - timedelta(seconds=1)).date()


def shown(day: date) -> Message:
    """`Fri 20 Mar 2026`, in the reader's conventions."""
    return Day(day, "EEE dd MMM y")


def show_day(call: Call, zone: str) -> Message:
    return shown(last_day(call, zone))


def deadline(call: Call, zone: str) -> Message:
    """The call's deadline for its reader: the end of its day in `zone` (community time),
    or the same instant in the reader's own zone (`bot.moments.Deadline`)."""
    return moments.Deadline(call.deadline, zone)


def is_open(call: Call, now: datetime) -> bool:
    return call.closed_at is None and call.deadline > now


def split_title(text: str) -> tuple[str, list[str]]:
    """`"<title>" [: topic, ...]` (or an unquoted title) as (title, topic names)."""
    text = text.strip()
    rest = ""
    if text and text[0] in _QUOTES:
        end = text.find(_QUOTES[text[0]], 1)
        if end < 0:
            raise UsageError(_("The title needs its closing quote."))
        title, rest = text[1:end], text[end + 1 :].strip()
        if rest and not rest.startswith(":"):
            raise UsageError(_('Put the topics after a colon: `"<title>": topic, topic`.'))
    else:
        title, colon, tail = text.partition(":")
        rest = colon + tail
    title = " ".join(title.split())
    if not title:
        raise UsageError(NO_TITLE)
    if len(title) > MAX_TITLE:
        raise CommandError(
            _("That title is too long (at most {limit} characters).", limit=MAX_TITLE)
        )
    tail = rest[1:].strip() if rest.startswith(":") else ""
    return title, topics.split_names(tail) if re.search(r"\w", tail) else []


async def get(session: AsyncSession, call_id: int) -> Call:
    call = await session.get(Call, call_id)
    if call is None:
        raise CommandError(
            _("There is no call #{id}. Type `calls` to see the open ones.", id=call_id)
        )
    return call


async def topic_names(session: AsyncSession, call_id: int) -> list[str]:
    return (await topics.names_by(session, CallTopic.call_id, CallTopic.topic_id, [call_id]))[
        call_id
    ]


def closed_answer(call: Call, zone: str, withdrawing: bool = False) -> Message:
    said = {"id": call.id, "title": call.title, "day": show_day(call, zone)}
    if withdrawing:
        return _("Thank you for your interest, but call #{id} ({title}) closed on {day}; "
                 "interest can no longer be changed. Type `calls` to see the open ones.",
                 **said)  # fmt: skip
    return _("Thank you for your interest, but call #{id} ({title}) closed on {day}; "
             "interest can no longer be added. Type `calls` to see the open ones.",
             **said)  # fmt: skip


async def open_calls(session: AsyncSession, now: datetime) -> list[tuple[Call, int]]:
    """Open calls, soonest deadline first, with how many members are interested."""
    interested = (
        select(CallInterest.call_id, func.count().label("n"))
        .where(CallInterest.withdrawn_at.is_(None))
        .group_by(CallInterest.call_id)
        .subquery()
    )
    rows = await session.execute(
        select(Call, func.coalesce(interested.c.n, 0))
        .outerjoin(interested, interested.c.call_id == Call.id)
        .where(Call.closed_at.is_(None), Call.deadline > now)
        .order_by(Call.deadline, Call.id)
    )
    return [(call, count) for call, count in rows.all()]


async def notes_of(session: AsyncSession, member_id: int) -> dict[int, str]:
    """The member's standing expressions of interest: call id -> their note."""
    rows = await session.execute(
        select(CallInterest.call_id, CallInterest.note).where(
            CallInterest.member_id == member_id, CallInterest.withdrawn_at.is_(None)
        )
    )
    return dict(rows.all())


async def express(
    session: AsyncSession, call: Call, member: Member, note: str | None, now: datetime
) -> tuple[bool, str]:
    """Record or change a member's interest with their profile as it is now (without a
    `note`, the earlier one is kept); (True if new or expressed again after a withdrawal,
    the note kept)."""
    before = await session.get(CallInterest, (call.id, member.id))
    fresh = before is None or before.withdrawn_at is not None
    if note is None:
        note = before.note if before is not None else ""
    values = {
        "note": note,
        "city": member.city,
        "org": member.org,
        "role_title": member.role_title,
        "updated_at": now,
        "withdrawn_at": None,
    }
    await session.execute(
        upsert(session, CallInterest)
        .values(call_id=call.id, member_id=member.id, **values)
        .on_conflict_do_update(index_elements=["call_id", "member_id"], set_=values)
    )
    await home.changed(session, [member.id])
    return fresh, note


def check_note(text: str | None) -> str | None:
    """The note as typed, or None when there is none."""
    note = (text or "").strip()
    if not note:
        return None
    if len(note) > MAX_NOTE:
        raise CommandError(
            _("That note is {length} characters long; please keep it to {limit} at most.",
              length=Number(len(note)), limit=Number(MAX_NOTE))
        )  # fmt: skip
    return note
