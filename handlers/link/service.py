"""Linking accounts: one-time codes, and merging two members into one.

`link` on one account gives a code; `link <code>` on another account (usually on the other
platform) merges the two members. The older member (lower id) survives and takes over
everything that points at the other: identities, activity, roles, expertise, questions,
onboarding, and so on. Columns that reference members by foreign key are found from the
models; columns that hold a member id without one are listed in `PLAIN_MEMBER_COLUMNS` (add
new ones there). Where the survivor already has an equivalent row (the same role, the same
expertise), the other member's row is dropped.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, Table, UniqueConstraint, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import CommandError, UsageError
from bot.models import (
    Activity,
    AuditEntry,
    Base,
    Identity,
    LinkCode,
    Member,
    Prompt,
    PromptSchedule,
    Question,
    Role,
)

CODE_TTL = timedelta(minutes=15)
CODE_LENGTH = 8
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no I, L, O, 0, 1: easy to read and type

PLAIN_MEMBER_COLUMNS: tuple[Column, ...] = (
    Activity.__table__.c.member_id,
    Role.__table__.c.granted_by,
    Question.__table__.c.solved_by,
    Prompt.__table__.c.created_by,
    PromptSchedule.__table__.c.created_by,
    AuditEntry.__table__.c.actor_id,
    AuditEntry.__table__.c.subject_id,
    LinkCode.__table__.c.claimed_by,
)

_PROFILE_FIELDS = ("city", "org", "role_title", "timezone")


def show_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def parse_code(text: str) -> str:
    """A code as typed (any case, with or without the dash); UsageError if it cannot be one."""
    code = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(f"[A-Z0-9]{{{CODE_LENGTH}}}", code):
        raise UsageError("That does not look like a link code (8 letters and digits, ABCD-2345).")
    return code


async def issue_code(session: AsyncSession, member_id: int, platform: str, now: datetime) -> str:
    """A fresh one-time code for a member; their earlier unused codes and every expired code
    are dropped. The caller commits."""
    await session.execute(
        delete(LinkCode).where(
            (LinkCode.created_at < now - CODE_TTL)
            | ((LinkCode.member_id == member_id) & LinkCode.used_at.is_(None))
        )
    )
    for _ in range(5):
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
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


async def redeem(session: AsyncSession, code: str, member: Member, now: datetime) -> Member:
    """Use a code on behalf of `member`: merge the code's member and this one; returns the
    survivor. Raises CommandError (nothing changed) for a bad, used or expired code, or one
    from this same member. The caller commits."""
    row = await session.get(LinkCode, code)
    again = "Type `link` on your other account for a new code."
    if row is None:
        raise CommandError(f"I don't know that code. {again}")
    if row.used_at is not None:
        raise CommandError(f"That code was already used. {again}")
    if now - row.created_at > CODE_TTL:
        raise CommandError(f"That code has expired (codes last 15 minutes). {again}")
    if row.member_id == member.id:
        accounts = await session.scalar(
            select(Identity.id).where(Identity.member_id == member.id).offset(1).limit(1)
        )
        if accounts is None:
            raise CommandError(
                "That code is from this same account; linking an account to itself does "
                "nothing. Type `link <code>` on your other account."
            )
        raise CommandError("These accounts are already linked.")
    claimed = await session.execute(
        update(LinkCode)
        .where(LinkCode.code == code, LinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise CommandError(f"That code was already used. {again}")
    other = await session.get(Member, row.member_id)
    if other is None:
        raise CommandError(f"The account that made that code is gone. {again}")
    return await merge(session, member, other)


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


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


async def merge(session: AsyncSession, a: Member, b: Member) -> Member:
    """Make two members one; returns the survivor (the older one). Flushes, never commits."""
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
