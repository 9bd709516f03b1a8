"""Claims on inbound events: the event is acted on by whoever claims it first.

A claim is a row keyed by (platform, event id), inserted with ON CONFLICT DO NOTHING, so a
retried delivery, a restarted process or a second replica on the same database does nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.models import HandledEvent


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(HandledEvent).on_conflict_do_nothing()


async def claim(db: Database, platform: str, event_id: str, now: datetime) -> bool:
    """True if this process is the first to claim the event."""
    async with db.write_lock(), db.sessions() as session:
        claimed = await take(session, platform, event_id, now)
        await session.commit()
        return claimed


async def take(session: AsyncSession, platform: str, event_id: str, now: datetime) -> bool:
    """Claim inside the caller's transaction (which must commit before acting)."""
    claimed = await session.scalar(
        _insert(session.bind.dialect.name)
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
