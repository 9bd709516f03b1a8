"""Doing something once across restarts and replicas: claim a row, act, and give the row
back if acting fails or is cancelled, so that a later run tries again (`claim_then_send`):
an escalation step, accepting an offer, a question's post. Notices go through the outbox
(`bot.outbox`) instead; `once` is for what it cannot carry, a call's closing workbook (a
file), under the same `notices` key (subject, kind, member)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import delete

from bot.context import Services
from bot.db import upsert
from bot.models import Notice

Claim = TypeVar("Claim")
Sent = TypeVar("Sent")


async def claim_then_send(
    claim: Callable[[], Awaitable[Claim | None]],
    send: Callable[[Claim], Awaitable[Sent]],
    give_back: Callable[[Claim], Awaitable[object]],
) -> tuple[bool, Sent | None]:
    """Claim, then send; (False, None) when the claim was taken already. If sending fails or
    is cancelled, the claim is given back (shielded from the cancellation) and the error
    raised."""
    claimed = await claim()
    if claimed is None:
        return False, None
    try:
        sent = await send(claimed)
    except BaseException:
        await asyncio.shield(give_back(claimed))
        raise
    return True, sent


async def once(
    ctx: Services, subject: str, kind: str, member_id: int, send: Callable[[], Awaitable[object]]
) -> bool:
    """Send a notice unless it was sent already; True if this call sent it. A failure to
    send gives the claim back (and raises), so a later run tries again."""

    async def claim() -> int | None:
        async with ctx.db() as session:
            claimed = await session.scalar(
                upsert(session, Notice)
                .values(subject=subject, kind=kind, member_id=member_id, sent_at=ctx.now())
                .on_conflict_do_nothing()
                .returning(Notice.id)
            )
            await session.commit()
        return claimed

    sent, _ = await claim_then_send(
        claim, lambda _: send(), lambda notice_id: _give_back(ctx, notice_id)
    )
    return sent


async def _give_back(ctx: Services, notice_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(Notice).where(Notice.id == notice_id))
        await session.commit()
