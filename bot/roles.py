"""The one permission check, and granting and revoking roles.

A member holds a role if it was granted (stored) or if one of their platform user ids is
listed in `CONVENER_FACILITATORS` / `CONVENER_COORDINATORS`. Facilitators may do everything
coordinators may.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot import audit
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


# The hot statements are built once: SQLAlchemy then reuses their compiled form and cache
# key, and nothing is constructed per call (a sender is resolved for every claimed event).
_ROLES_OF = (
    select(literal("role"), Role.role)
    .where(Role.member_id == bindparam("member_id"))
    .union_all(
        select(literal("id"), Identity.user_id).where(Identity.member_id == bindparam("member_id"))
    )
)
_linked = aliased(Identity)
_OF_USER = (
    select(Member, Role.role, _linked.user_id)
    .join(Identity, Identity.member_id == Member.id)
    .join(_linked, _linked.member_id == Member.id)
    .outerjoin(Role, Role.member_id == Member.id)
    .where(Identity.platform == bindparam("platform"), Identity.user_id == bindparam("user_id"))
)


def roles_of(session: Session, member_id: int, settings: Settings) -> set[str]:
    """Every role a member holds, stored or configured (one query). Synchronous, for units
    of work; from async code, `await session.run_sync(roles_of, member_id, settings)`."""
    rows = session.execute(_ROLES_OF, {"member_id": member_id})
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
    rows = session.execute(_OF_USER, {"platform": user.platform, "user_id": user.id}).all()
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


# Role changes run one at a time: on PostgreSQL under this transaction-level advisory lock
# (two replicas must not both revoke one of the last two facilitators); on SQLite a revoke's
# delete holds the database's one write lock until it commits.
ROLE_LOCK = 0x636F6E76


class Outcome(StrEnum):
    GRANTED = "granted"
    ALREADY = "already"
    REVOKED = "revoked"
    NOT_HELD = "not held"
    CONFIGURED = "configured"
    LAST = "last facilitator"


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ROLE_LOCK)))


def change(
    session: Session,
    member_id: int,
    role: str,
    grant: bool,
    settings: Settings,
    now: datetime,
    actor_id: int | None,
) -> Outcome:
    """Grant or revoke a role, audited, as one unit of work that commits itself. A role the
    settings give is changed only there; the last facilitator is never revoked."""
    _serialise(session)
    held = session.get(Role, (member_id, role))
    configured = role in roles_of_configured(session, member_id, settings)
    if grant:
        if held is not None or configured:
            return Outcome.ALREADY
        session.add(Role(member_id=member_id, role=role, granted_at=now, granted_by=actor_id))
        outcome = Outcome.GRANTED
    else:
        if configured or (held is not None and held.source == "config"):
            return Outcome.CONFIGURED
        if held is None:
            return Outcome.NOT_HELD
        session.delete(held)
        session.flush()  # first remove, then count: a concurrent revoke cannot slip between
        if role == FACILITATOR and not _holders(session, settings)[role]:
            session.rollback()
            return Outcome.LAST
        outcome = Outcome.REVOKED
    audit.record(
        session,
        audit.ROLE_GRANT if grant else audit.ROLE_REVOKE,
        now,
        actor_id=actor_id,
        subject_id=member_id,
        detail=role,
    )
    session.commit()
    return outcome


def roles_of_configured(session: Session, member_id: int, settings: Settings) -> set[str]:
    """The roles the settings give a member through any of their accounts."""
    user_ids = set(session.scalars(select(Identity.user_id).where(Identity.member_id == member_id)))
    return {role for role, ids in _configured(settings).items() if user_ids & ids}


def _holders(session: Session, settings: Settings) -> dict[str, list[Member]]:
    result: dict[str, dict[int, Member]] = {role: {} for role in ROLES}
    for role, member in session.execute(
        select(Role.role, Member).join(Member, Member.id == Role.member_id)
    ):
        result.setdefault(role, {})[member.id] = member
    for role, ids in _configured(settings).items():
        if not ids:
            continue
        for member in session.scalars(
            select(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.user_id.in_(ids))
        ):
            result[role][member.id] = member
    return {
        role: sorted(m.values(), key=lambda m: m.display_name.lower()) for role, m in result.items()
    }


async def holders(session: AsyncSession, settings: Settings) -> dict[str, list[Member]]:
    """Everyone who holds each role, stored or configured."""
    return await session.run_sync(_holders, settings)


def reconcile(session: Session, settings: Settings, now: datetime) -> tuple[int, int]:
    """Make the roles that came from the settings match them, at every start: members now
    listed gain the role, members no longer listed lose it (roles granted by command stay).
    Audited; commits. Returns (granted, revoked)."""
    _serialise(session)
    granted = revoked = 0
    for role, ids in _configured(settings).items():
        listed = (
            set(session.scalars(select(Identity.member_id).where(Identity.user_id.in_(ids))))
            if ids
            else set()
        )
        stored = {r.member_id: r for r in session.scalars(select(Role).where(Role.role == role))}
        for member_id in listed - stored.keys():
            session.add(Role(member_id=member_id, role=role, granted_at=now, source="config"))
            audit.record(
                session, audit.ROLE_GRANT, now, subject_id=member_id, detail=f"{role} (settings)"
            )
            granted += 1
        for member_id, row in stored.items():
            if row.source == "config" and member_id not in listed:
                session.delete(row)
                audit.record(
                    session, audit.ROLE_REVOKE, now, subject_id=member_id,
                    detail=f"{role} (removed from the settings)",
                )  # fmt: skip
                revoked += 1
    session.commit()
    return granted, revoked
