"""Notices sent once: a reminder, a start post, a cancellation, a closing list. Each is a
row (`notices`: subject, kind, member; member 0 for a post in a channel) claimed before it is
sent and given back if sending fails or is cancelled, so it goes out exactly once across
restarts and replicas, the same rule as prompt slots."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import delete

from bot.context import Context
from bot.db import upsert
from bot.models import Notice

CHANNEL = 0


async def once(
    ctx: Context, subject: str, kind: str, member_id: int, send: Callable[[], Awaitable[object]]
) -> bool:
    """Send a notice unless it was sent already; True if this call sent it. A failure to
    send gives the claim back (and raises), so a later run tries again."""
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, Notice)
            .values(subject=subject, kind=kind, member_id=member_id, sent_at=ctx.now())
            .on_conflict_do_nothing()
            .returning(Notice.id)
        )
        await session.commit()
    if claimed is None:
        return False
    try:
        await send()
    except BaseException:
        await asyncio.shield(_give_back(ctx, claimed))
        raise
    return True


async def _give_back(ctx: Context, notice_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(Notice).where(Notice.id == notice_id))
        await session.commit()
