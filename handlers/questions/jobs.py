"""The questions job, run by the scheduler every minute: note first responses, escalate
unanswered questions, route questions whose wait for the library's answer has passed, and
offer help on unanswered question-like messages."""

from __future__ import annotations

from bot.context import Services
from bot.router import Router
from handlers.questions import escalation, offers, responses, suggesting

router = Router()


@router.every("questions", minutes=1)
async def follow_up(ctx: Services) -> tuple[int, int]:
    """(escalation steps taken, offers made); first responses are noted first, so that an
    answered question never escalates."""
    await responses.note_first_responses(ctx)
    await suggesting.release_held(ctx)
    return await escalation.escalate(ctx), await offers.offer_due(ctx)
