"""Retention: activity older than `CONVENER_RETENTION_DAYS` is deleted (0 keeps it all)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from bot import claims
from bot.context import Context
from bot.models import Activity


async def purge_old_activity(ctx: Context) -> int:
    days = ctx.settings.retention_days
    if days <= 0:
        return 0
    cutoff = ctx.now() - timedelta(days=days)
    async with ctx.db() as session:
        result = await session.execute(delete(Activity).where(Activity.ts < cutoff))
        await session.commit()
        return result.rowcount or 0


async def prune_claims(ctx: Context) -> int:
    return await claims.prune(ctx.db, ctx.now() - timedelta(days=7))
