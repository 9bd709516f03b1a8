"""Linking accounts: one-time codes, claims, merging two members into one, and unlinking.

`link` on one account gives a code. `link <code>` on an account on another platform claims
it, and `link confirm` from that account merges the two members. A code works once: trying it
from its own account or from the same platform also uses it up, since it was seen by someone
it was not meant for. The older member (lower id) survives and takes over everything that
points at the other: identities, activity, roles, expertise, questions, onboarding, and so
on. Columns that reference members by foreign key are found from the models; columns that
hold a member id without one are listed in `PLAIN_MEMBER_COLUMNS` (add new ones there).
Where the survivor already has an equivalent row (the same role, the same expertise), the
other member's row is dropped. `unlink` splits one platform's accounts off again.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, Table, UniqueConstraint, and_, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import activity, audit
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines, n_
from bot.models import (
    Activity,
    AuditEntry,
    Base,
    Call,
    Event,
    Identity,
    IntroRound,
    IntroSchedule,
    KnowledgeEntry,
    LibraryCandidate,
    LinkCode,
    Member,
    Notice,
    Prompt,
    PromptSchedule,
    Question,
    Role,
)

CODE_TTL = timedelta(minutes=15)
MINUTES = int(CODE_TTL.total_seconds() // 60)
CODE_LENGTH = 8
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no I, L, O, 0, 1: easy to read and type
AGAIN = _("Type `link` on your other account for a new code.")
USED = _("That code was already used.")

PLAIN_MEMBER_COLUMNS: tuple[Column, ...] = (
    Activity.__table__.c.member_id,
    Role.__table__.c.granted_by,
    Question.__table__.c.solved_by,
    Question.__table__.c.first_responder_id,
    KnowledgeEntry.__table__.c.created_by,
    Event.__table__.c.created_by,
    Call.__table__.c.created_by,
    Notice.__table__.c.member_id,
    Prompt.__table__.c.created_by,
    PromptSchedule.__table__.c.created_by,
    AuditEntry.__table__.c.actor_id,
    AuditEntry.__table__.c.subject_id,
    LinkCode.__table__.c.claimed_by,
    IntroSchedule.__table__.c.updated_by,
    IntroRound.__table__.c.started_by,
    LibraryCandidate.__table__.c.asked_by,
    LibraryCandidate.__table__.c.decided_by,
)

_PROFILE_FIELDS = ("city", "org", "role_title", "timezone", "language")


class Burned(CommandError):
    """A refusal that used the code up (it was tried by an account it was not meant for):
    the caller commits that, and nothing else changed."""


def show_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def parse_code(text: str) -> str:
    """A code as typed (any case, with or without the dash); UsageError if it cannot be one."""
    code = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(f"[A-Z0-9]{{{CODE_LENGTH}}}", code):
        raise UsageError(
            _("That does not look like a link code (8 letters and digits, ABCD-2345).")
        )
    return code


def account(identity: Identity) -> str:
    """An account as the audit log records it: `slack account alice (U123)`."""
    name = identity.display_name
    who = f"{name} ({identity.user_id})" if name and name != identity.user_id else identity.user_id
    return f"{identity.platform} account {who}"


def said_account(identity: Identity) -> Message:
    """An account as people recognise it, in their language: `slack account alice (U123)`."""
    name, user_id = identity.display_name, identity.user_id
    if name and name != user_id:
        return _("{platform} account {name} ({user_id})",
                 platform=identity.platform, name=name, user_id=user_id)  # fmt: skip
    return _("{platform} account {user_id}", platform=identity.platform, user_id=user_id)


def _again(said: Message) -> Message:
    """A refusal, then how to get a new code."""
    return lines(said, AGAIN, sep=" ")


def _deadline(row: LinkCode) -> datetime:
    """When a code stops working: CODE_TTL after it was made, or after it was claimed."""
    return (row.claimed_at or row.created_at) + CODE_TTL


async def issue_code(session: AsyncSession, member_id: int, platform: str, now: datetime) -> str:
    """A fresh one-time code for a member; their earlier unused codes and every expired code
    are dropped. The caller commits."""
    await session.execute(
        delete(LinkCode).where(
            (func.coalesce(LinkCode.claimed_at, LinkCode.created_at) < now - CODE_TTL)
            | ((LinkCode.member_id == member_id) & LinkCode.used_at.is_(None))
        )
    )
    for _attempt in range(5):
        code = "".join(secrets.choice(ALPHABET) for _letter in range(CODE_LENGTH))
        try:
            async with session.begin_nested():
                session.add(
                    LinkCode(code=code, member_id=member_id, platform=platform, created_at=now)
                )
                await session.flush()
            return code
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free link code")


async def _use_up(session: AsyncSession, code: str, now: datetime) -> bool:
    """Mark a code used, unless it already is; whether this call did it."""
    done = await session.execute(
        update(LinkCode)
        .where(LinkCode.code == code, LinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


async def _identities(session: AsyncSession, member_id: int) -> list[Identity]:
    rows = await session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return list(rows)


async def _accounts(
    session: AsyncSession, row: LinkCode, member_id: int, platform: str, now: datetime
) -> tuple[Identity, Identity]:
    """The claiming account (of `member_id`, on `platform`) and the code's account. Uses the
    code up and raises Burned when they are one member or share a platform."""
    mine, theirs = await _identities(session, member_id), await _identities(session, row.member_id)
    if not theirs:
        raise CommandError(_again(_("The account that made that code is gone.")))
    if row.member_id == member_id:
        await _use_up(session, row.code, now)
        if len(mine) > 1:
            raise Burned(_("These accounts are already linked."))
        raise Burned(_(
            "That code is from this same account, so it no longer works. Type `link` for a "
            "new code and use it on your account on another platform."
        ))  # fmt: skip
    shared = sorted({i.platform for i in mine} & {i.platform for i in theirs})
    if shared:
        await _use_up(session, row.code, now)
        raise Burned(_(
            "Only accounts on different platforms can be linked, and both are on {platform}. "
            "That code no longer works.", platform=shared[0],
        ))  # fmt: skip
    return _on(mine, platform), _on(theirs, row.platform)


def _on(identities: list[Identity], platform: str) -> Identity:
    """The account on `platform` (the first one if it has moved on since)."""
    return next((i for i in identities if i.platform == platform), identities[0])


async def claim(
    session: AsyncSession, code: str, member_id: int, platform: str, now: datetime
) -> tuple[Identity, Identity]:
    """Claim a code for `member_id` (typing it on `platform`), to be confirmed; returns the
    claiming account and the code's. CommandError (nothing changed) for an unknown, used or
    expired code; Burned for the code's own member or a shared platform. The caller commits."""
    row = await session.get(LinkCode, code)
    if row is None:
        raise CommandError(_again(_("I don't know that code.")))
    if row.used_at is not None or row.claimed_by not in (None, member_id):
        raise CommandError(_again(USED))
    if now > _deadline(row):
        raise CommandError(_again(n_("That code has expired (codes last {n} minute).",
                                     "That code has expired (codes last {n} minutes).",
                                     MINUTES)))  # fmt: skip
    accounts = await _accounts(session, row, member_id, platform, now)
    if row.claimed_by is None:
        taken = await session.execute(
            update(LinkCode)
            .where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.claimed_by.is_(None))
            .values(claimed_by=member_id, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            raise CommandError(_again(USED))
    return accounts


async def pending(session: AsyncSession, member_id: int, now: datetime) -> LinkCode:
    """The member's latest claim still waiting for `link confirm`; CommandError if none."""
    row = await session.scalar(
        select(LinkCode)
        .where(LinkCode.claimed_by == member_id, LinkCode.used_at.is_(None))
        .order_by(LinkCode.claimed_at.desc())
        .limit(1)
    )
    if row is None:
        raise CommandError(
            _("You have no link waiting. Type `link <code>` with a code from your other account.")
        )
    if now > _deadline(row):
        raise CommandError(_again(n_("That link waited more than {n} minute and has expired.",
                                     "That link waited more than {n} minutes and has expired.",
                                     MINUTES)))  # fmt: skip
    return row


async def confirm(session: AsyncSession, member: Member, platform: str, now: datetime) -> Member:
    """Carry out the member's pending claim (typed on `platform`): merge, use the code up and
    audit it; returns the survivor. CommandError (nothing changed) when nothing is pending,
    Burned as in `claim`. The caller commits."""
    row = await pending(session, member.id, now)
    mine, theirs = await _accounts(session, row, member.id, platform, now)
    other = await session.get(Member, row.member_id)
    if other is None or not await _use_up(session, row.code, now):
        raise CommandError(_again(USED))
    detail = f"{account(theirs)} + {account(mine)}"
    survivor = await merge(session, member, other)
    audit.record(
        session, audit.LINK, now, actor_id=survivor.id, subject_id=survivor.id, detail=detail
    )
    return survivor


async def cancel(session: AsyncSession, member_id: int, now: datetime) -> None:
    """Drop the pending claim the member made, or one made on the member's own code (its
    owner saw a claim they did not make), and use its code up. The caller commits."""
    on_mine = await session.scalar(
        select(LinkCode).where(
            LinkCode.member_id == member_id,
            LinkCode.claimed_by.is_not(None),
            LinkCode.used_at.is_(None),
        )
    )
    row = on_mine if on_mine is not None else await pending(session, member_id, now)
    await _use_up(session, row.code, now)


async def unlink(
    session: AsyncSession, member: Member, platform: str, actor_id: int | None, now: datetime
) -> Member:
    """Split the member's accounts on `platform` off into a new member, with the member's
    activity there; roles, profile and expertise stay. Returns the new member; CommandError
    (nothing changed) if the member has no account there or no other. The caller commits."""
    hold = activity.hold_writes(session)
    if hold is not None:
        await session.execute(hold)
    accounts = await _identities(session, member.id)
    moving = [i for i in accounts if i.platform == platform]
    if not moving:
        raise CommandError(
            _("{name} has no {platform} account.", name=member.display_name, platform=platform)
        )
    if len(moving) == len(accounts):
        raise CommandError(_("That is {name}'s only account, so there is nothing to unlink.",
                             name=member.display_name))  # fmt: skip
    new = Member(
        display_name=(moving[0].display_name or moving[0].user_id)[:200],
        is_bot=member.is_bot,
        created_at=member.created_at,
        joined_at=member.joined_at,
        welcomed_at=member.welcomed_at,
    )
    session.add(new)
    await session.flush()
    for identity in moving:
        identity.member_id = new.id
    await session.execute(
        update(Activity)
        .where(Activity.member_id == member.id, Activity.platform == platform)
        .values(member_id=new.id)
    )
    detail = ", ".join(account(i) for i in moving) + f" moved to new member {new.id}"
    audit.record(session, audit.UNLINK, now, actor_id=actor_id, subject_id=member.id, detail=detail)
    await session.flush()
    return new


def _member_columns() -> list[Column]:
    members_id = Member.__table__.c.id
    columns = [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if any(fk.column is members_id for fk in column.foreign_keys)
    ]
    known = {(c.table.name, c.name) for c in columns}
    return columns + [c for c in PLAIN_MEMBER_COLUMNS if (c.table.name, c.name) not in known]


def _unique_sets(table: Table, column: Column) -> list[list[str]]:
    """The names of the other columns of each primary key or unique constraint (or unique
    index) that includes `column`."""
    sets = [table.primary_key.columns]
    sets += [c.columns for c in table.constraints if isinstance(c, UniqueConstraint)]
    sets += [index.columns for index in table.indexes if index.unique]
    found: list[list[str]] = []
    for cols in sets:
        names = [c.name for c in cols]
        if column.name in names:
            others = sorted(n for n in names if n != column.name)
            if others not in found:
                found.append(others)
    return found


async def _move_references(session: AsyncSession, keep_id: int, gone_id: int) -> None:
    for column in _member_columns():
        table = column.table
        for others in _unique_sets(table, column):
            twin = table.alias()
            clash = exists().where(
                and_(twin.c[column.name] == keep_id, *(twin.c[n] == table.c[n] for n in others))
            )
            await session.execute(delete(table).where(column == gone_id, clash))
        await session.execute(update(table).where(column == gone_id).values({column: keep_id}))
    await _move_candidate_answers(session, keep_id, gone_id)


async def _move_candidate_answers(session: AsyncSession, keep_id: int, gone_id: int) -> None:
    """Answers in waiting library candidates name their author by member id inside JSON."""
    waiting = await session.scalars(
        select(LibraryCandidate).where(LibraryCandidate.answers.is_not(None))
    )
    for candidate in waiting:
        answers = candidate.answers or []
        if any(a.get("member_id") == gone_id for a in answers):
            candidate.answers = [
                {**a, "member_id": keep_id} if a.get("member_id") == gone_id else a for a in answers
            ]


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


async def merge(session: AsyncSession, a: Member, b: Member) -> Member:
    """Make two members one; returns the survivor (the older one). Flushes, never commits."""
    hold = activity.hold_writes(session)
    if hold is not None:
        await session.execute(hold)
    keep, gone = (a, b) if a.id < b.id else (b, a)
    for name in _PROFILE_FIELDS:
        if getattr(keep, name) is None:
            setattr(keep, name, getattr(gone, name))
    keep.created_at = _earliest(keep.created_at, gone.created_at) or keep.created_at
    keep.joined_at = _earliest(keep.joined_at, gone.joined_at)
    keep.welcomed_at = _earliest(keep.welcomed_at, gone.welcomed_at)
    if gone.is_away and not keep.is_away:
        keep.is_away, keep.away_until = True, gone.away_until
    gone_id = gone.id
    await session.flush()
    session.expunge(gone)
    await _move_references(session, keep.id, gone_id)
    await session.execute(delete(Member).where(Member.id == gone_id))
    await session.flush()
    await session.refresh(keep)
    return keep
