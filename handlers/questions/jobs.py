"""The questions job, run by the scheduler every few minutes: escalate unanswered questions
and offer help on unanswered question-like messages."""

from __future__ import annotations

from bot.context import Context
from handlers.questions import offers, service


async def follow_up(ctx: Context) -> tuple[int, int]:
    """(escalation steps taken, offers made)."""
    return await service.escalate(ctx), await offers.offer_due(ctx)
