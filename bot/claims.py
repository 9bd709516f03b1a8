"""Claims on inbound events: the event is acted on by whoever claims it first.

A claim is a row keyed by (platform, event id), inserted with ON CONFLICT DO NOTHING, so a
retried delivery, a restarted process or a second replica on the same database does nothing.
`claimed()` holds a claim around the work: it is released on any failure, cancellation
included, so a redelivery can try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import members, roles
from bot.db import Database, upsert
from bot.errors import CommandError
from bot.i18n import _
from bot.models import HandledEvent, Member
from bot.settings import Settings
from bot.types import Event, UserRef

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent the event being handled: their platform account, member and roles, resolved
    once by the pipeline. `member` is detached: load it again to change it. `is_new`: the
    member was created for this very event (nothing they did before is stored)."""

    user: UserRef
    member: Member
    roles: frozenset[str]
    is_new: bool = False

    @property
    def member_id(self) -> int:
        return self.member.id

    async def load(self, session: AsyncSession) -> Member:
        """The sender's member in `session`, to change it."""
        member = await session.get(Member, self.member.id)
        if member is None:  # merged or erased since the event arrived
            raise CommandError(_("Your membership changed just now; please try again."))
        return member


@asynccontextmanager
async def claimed(
    db: Database, event: Event, now: datetime, settings: Settings, *, new_sender: bool = False
) -> AsyncIterator[Sender | None]:
    """Claim the event and resolve its sender; yields None when someone else claimed it
    first. Any exception in the body gives the claim back, and so does cancelling the claim
    itself once it is taken.

    Both happen in one unit of work (`Database.unit`). A sender seen for the first time
    (`new_sender`: this process has never seen them, so the lookup is skipped) is created
    in the claim's transaction, holding the roles the settings give them."""
    unit = asyncio.ensure_future(
        db.unit(_claim, event.platform, event.event_id, event.user, now, settings, new_sender)
    )
    try:
        sender = await asyncio.shield(unit)
    except asyncio.CancelledError:
        if not unit.cancelled() and await _wait_quietly(unit) is not None:
            await asyncio.shield(release(db, event.platform, event.event_id))
        raise
    if sender is None:
        log.debug("event %s %s already handled", event.platform, event.event_id)
        yield None
        return
    try:
        yield sender
    except BaseException:
        await asyncio.shield(release(db, event.platform, event.event_id))
        raise


async def _wait_quietly(unit: asyncio.Future) -> Sender | None:
    """The claim's outcome after its caller was cancelled (None if it failed)."""
    try:
        return await asyncio.shield(unit)
    except Exception:
        return None


def _claim(
    session: Session,
    platform: str,
    event_id: str,
    user: UserRef,
    now: datetime,
    settings: Settings,
    new_sender: bool,
) -> Sender | None:
    known = None if new_sender else roles.of_user(session, user, settings)
    if not take(session, platform, event_id, now):
        session.rollback()
        return None
    if known is not None:
        sender = Sender(user, known[0], frozenset(known[1]))
    else:
        member, created = members.create(session, user, now)
        held = (
            roles.configured_for(user, settings)
            if created
            else roles.roles_of(session, member.id, settings)
        )
        sender = Sender(user, member, frozenset(held), is_new=created)
    session.commit()
    return sender


_TAKE: dict[str, object] = {}


def _take_statement(session: Session):
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING` for a claim, built once per dialect (its
    compiled form and cache key are then reused: a claim is taken for every acted-on event)."""
    dialect = session.get_bind().dialect.name
    statement = _TAKE.get(dialect)
    if statement is None:
        table = HandledEvent.__table__
        statement = _TAKE[dialect] = (
            upsert(session, table).on_conflict_do_nothing().returning(table.c.event_id)
        )
    return statement


def take(session: Session, platform: str, event_id: str, now: datetime) -> bool:
    """Claim inside the caller's transaction (which must commit before acting)."""
    claimed = session.execute(
        _take_statement(session),
        {"platform": platform, "event_id": event_id[:255], "handled_at": now},
    ).scalar()
    return claimed is not None


async def release(db: Database, platform: str, event_id: str) -> None:
    """Give a claim back after a failure, so a retried delivery can try again."""
    async with db.sessions() as session:
        await session.execute(
            delete(HandledEvent).where(
                HandledEvent.platform == platform, HandledEvent.event_id == event_id[:255]
            )
        )
        await session.commit()


async def prune(db: Database, before: datetime) -> int:
    async with db.sessions() as session:
        result = await session.execute(delete(HandledEvent).where(HandledEvent.handled_at < before))
        await session.commit()
        return result.rowcount or 0
