"""The one permission check, and granting and revoking roles.

A member holds a role if it was granted (stored) or if one of their platform user ids is
listed in `CONVENER_FACILITATORS` / `CONVENER_COORDINATORS`. Facilitators may do everything
coordinators may.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot.models import Identity, Member, Role
from bot.settings import Settings
from bot.types import UserRef

FACILITATOR = "facilitator"
COORDINATOR = "coordinator"
ROLES = (FACILITATOR, COORDINATOR)


def _configured(settings: Settings) -> dict[str, set[str]]:
    return {
        FACILITATOR: set(settings.facilitator_ids),
        COORDINATOR: set(settings.coordinator_ids),
    }


def configured_for(user: UserRef, settings: Settings) -> set[str]:
    """The roles the settings give this platform user (all a brand-new member holds)."""
    return {role for role, ids in _configured(settings).items() if user.id in ids}


def roles_of(session: Session, member_id: int, settings: Settings) -> set[str]:
    """Every role a member holds, stored or configured (one query). Synchronous, for units
    of work; from async code, `await session.run_sync(roles_of, member_id, settings)`."""
    rows = session.execute(
        select(literal("role"), Role.role)
        .where(Role.member_id == member_id)
        .union_all(select(literal("id"), Identity.user_id).where(Identity.member_id == member_id))
    )
    held, user_ids = set(), set()
    for source, value in rows:
        (held if source == "role" else user_ids).add(value)
    for role, ids in _configured(settings).items():
        if user_ids & ids:
            held.add(role)
    return held


def of_user(session: Session, user: UserRef, settings: Settings) -> tuple[Member, set[str]] | None:
    """The member behind a platform user and every role they hold, in one query; None if
    Convener has never seen the user. Synchronous, for units of work."""
    linked = aliased(Identity)
    rows = (
        session.execute(
            select(Member, Role.role, linked.user_id)
            .join(Identity, Identity.member_id == Member.id)
            .join(linked, linked.member_id == Member.id)
            .outerjoin(Role, Role.member_id == Member.id)
            .where(Identity.platform == user.platform, Identity.user_id == user.id)
        )
    ).all()
    if not rows:
        return None
    held = {role for _, role, _ in rows if role}
    user_ids = {user_id for _, _, user_id in rows}
    for role, ids in _configured(settings).items():
        if user_ids & ids:
            held.add(role)
    return rows[0][0], held


def permits(held: Iterable[str], needed: Iterable[str]) -> bool:
    """True if someone holding `held` may use something open to any of the `needed` roles
    (nothing needed means everyone; facilitators may do everything)."""
    needed, held = set(needed), set(held)
    return not needed or FACILITATOR in held or bool(held & needed)


async def allowed(
    session: AsyncSession, member_id: int, needed: Iterable[str], settings: Settings
) -> bool:
    """True if the member may use something open to any of the `needed` roles."""
    if not needed:
        return True
    return permits(await session.run_sync(roles_of, member_id, settings), needed)


async def grant(session: AsyncSession, member_id: int, role: str, by: int | None = None) -> bool:
    """Grant a role; False if the member already held it. The caller commits."""
    if await session.get(Role, (member_id, role)) is not None:
        return False
    session.add(Role(member_id=member_id, role=role, granted_at=datetime.now(UTC), granted_by=by))
    await session.flush()
    return True


async def revoke(session: AsyncSession, member_id: int, role: str) -> bool:
    row = await session.get(Role, (member_id, role))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def holders(session: AsyncSession, settings: Settings) -> dict[str, list[Member]]:
    """Everyone who holds each role, stored or configured."""
    result: dict[str, dict[int, Member]] = {role: {} for role in ROLES}
    rows = await session.execute(
        select(Role.role, Member).join(Member, Member.id == Role.member_id)
    )
    for role, member in rows:
        result.setdefault(role, {})[member.id] = member
    for role, ids in _configured(settings).items():
        if not ids:
            continue
        rows = await session.scalars(
            select(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.user_id.in_(ids))
        )
        for member in rows:
            result[role][member.id] = member
    return {
        role: sorted(m.values(), key=lambda m: m.display_name.lower()) for role, m in result.items()
    }


async def is_configured(
    session: AsyncSession, member_id: int, role: str, settings: Settings
) -> bool:
    user_ids = set(
        await session.scalars(select(Identity.user_id).where(Identity.member_id == member_id))
    )
    return bool(user_ids & _configured(settings)[role])


async def grant_configured(session: AsyncSession, settings: Settings) -> int:
    """Store the configured roles for members already known; returns how many were new."""
    count = 0
    for role, ids in _configured(settings).items():
        if not ids:
            continue
        member_ids = set(
            await session.scalars(select(Identity.member_id).where(Identity.user_id.in_(ids)))
        )
        for member_id in member_ids:
            count += await grant(session, member_id, role)
    return count
