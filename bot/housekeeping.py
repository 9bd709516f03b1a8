"""The core's own daily jobs. Retention: activity older than `CONVENER_RETENTION_DAYS` is
deleted (0 keeps it all), in batches of `BATCH` rows, each its own short transaction, so the
daily run never holds the database for long. Claims on handled events older than a week are
pruned."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot import claims
from bot.context import Services
from bot.models import Activity, ActivityDeadLetter
from bot.router import Router

BATCH = 5_000
CLAIMS_KEPT = timedelta(days=7)

router = Router()


def _delete_batch(session: Session, cutoff: datetime, limit: int) -> int:
    oldest = select(Activity.id).where(Activity.ts < cutoff).order_by(Activity.ts).limit(limit)
    result = session.execute(
        delete(Activity)
        .where(Activity.id.in_(oldest.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0


def _delete_dead_letters(session: Session, cutoff: datetime) -> int:
    result = session.execute(
        delete(ActivityDeadLetter)
        .where(ActivityDeadLetter.failed_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0


@router.daily("retention", hour=3, minute=17)
async def purge_old_activity(ctx: Services, batch: int = BATCH) -> int:
    """Delete activity (and rows that could not be stored) older than the retention period;
    returns how many activity rows went."""
    days = ctx.settings.retention_days
    if days <= 0:
        return 0
    cutoff = ctx.now() - timedelta(days=days)
    total = 0
    while True:
        deleted = await ctx.db.unit(_delete_batch, cutoff, batch)
        total += deleted
        if deleted < batch:
            break
        await asyncio.sleep(0)  # let commands and the activity log in between batches
    await ctx.db.unit(_delete_dead_letters, cutoff)
    return total


@router.daily("prune-claims", hour=3, minute=29)
async def prune_claims(ctx: Services) -> int:
    return await claims.prune(ctx.db, ctx.now() - CLAIMS_KEPT)
