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

from bot import members, roles
from bot.db import Database, upsert
from bot.errors import CommandError
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
            raise CommandError("Your membership changed just now; please try again.")
        return member


@asynccontextmanager
async def claimed(
    db: Database, event: Event, now: datetime, settings: Settings, *, new_sender: bool = False
) -> AsyncIterator[Sender | None]:
    """Claim the event and resolve its sender; yields None when someone else claimed it
    first. Any exception in the body gives the claim back.

    A known sender is read (member and roles, one query) before the write, so the write
    transaction holds SQLite's one writer for the claim alone; a sender seen for the first
    time (`new_sender`: this process has never seen them, so the read is skipped) is created
    in the claim's transaction, holding the roles the settings give them."""
    known = None
    if not new_sender:
        async with db.sessions() as session:
            known = await roles.of_user(session, event.user, settings)
    async with db.write_lock(), db.sessions() as session:
        if not await take(session, event.platform, event.event_id, now):
            log.debug("event %s %s already handled", event.platform, event.event_id)
            sender = None
        elif known is not None:
            sender = Sender(event.user, known[0], frozenset(known[1]))
        else:
            sender = await _first_sight(session, event.user, now, settings)
        await session.commit()
    if sender is None:
        yield None
        return
    try:
        yield sender
    except BaseException:
        await asyncio.shield(release(db, event.platform, event.event_id))
        raise


async def _first_sight(
    session: AsyncSession, user: UserRef, now: datetime, settings: Settings
) -> Sender:
    """The sender not found by the read (or never seen by this process): created, or the
    member someone else created meanwhile."""
    member, created = await members.create(session, user, now)
    held = (
        roles.configured_for(user, settings)
        if created
        else await roles.roles_of(session, member.id, settings)
    )
    return Sender(user, member, frozenset(held), is_new=created)


async def take(session: AsyncSession, platform: str, event_id: str, now: datetime) -> bool:
    """Claim inside the caller's transaction (which must commit before acting)."""
    claimed = await session.scalar(
        upsert(session, HandledEvent)
        .on_conflict_do_nothing()
        .values(platform=platform, event_id=event_id[:255], handled_at=now)
        .returning(HandledEvent.event_id)
    )
    return claimed is not None


async def release(db: Database, platform: str, event_id: str) -> None:
    """Give a claim back after a failure, so a retried delivery can try again."""
    async with db.write_lock(), db.sessions() as session:
        await session.execute(
            delete(HandledEvent).where(
                HandledEvent.platform == platform, HandledEvent.event_id == event_id[:255]
            )
        )
        await session.commit()


async def prune(db: Database, before: datetime) -> int:
    async with db.write_lock(), db.sessions() as session:
        result = await session.execute(delete(HandledEvent).where(HandledEvent.handled_at < before))
        await session.commit()
        return result.rowcount or 0
