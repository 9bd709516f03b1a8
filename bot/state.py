"""Small named values kept in the database (adapter tokens, templates)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.db import upsert
from bot.models import KeyValue


async def get(
    session: AsyncSession, scope: str, key: str, default: str | None = None
) -> str | None:
    return await session.run_sync(read, scope, key, default)


def read(session: Session, scope: str, key: str, default: str | None = None) -> str | None:
    """`get` in a unit of work (a synchronous session)."""
    row = session.scalar(select(KeyValue.value).where(KeyValue.scope == scope, KeyValue.key == key))
    return default if row is None else row


async def put(session: AsyncSession, scope: str, key: str, value: str) -> None:
    """Set a value (one statement, so that two writers of one key at once both succeed, the
    later winning); the caller commits."""
    now = datetime.now(UTC)
    await session.execute(
        upsert(session, KeyValue)
        .values(scope=scope, key=key, value=value, updated_at=now)
        .on_conflict_do_update(
            index_elements=[KeyValue.scope, KeyValue.key], set_={"value": value, "updated_at": now}
        )
    )


async def delete(session: AsyncSession, scope: str, key: str) -> None:
    row = await session.get(KeyValue, (scope, key))
    if row is not None:
        await session.delete(row)
