"""The introductions job, every minute: the rhythm's round when it is due (once across
restarts and replicas: the round's slot is unique), the introduction of any group a stopped
process left without one, and the follow-ups that are due."""

from __future__ import annotations

import logging

from bot.context import Services
from bot.router import Router
from handlers.intros import service

log = logging.getLogger(__name__)

router = Router()


@router.every("intros", minutes=1)
async def tick(ctx: Services) -> int:
    """Rounds made plus follow-ups asked by this run."""
    done = 0
    async with ctx.db() as session:
        rhythm = await service.schedule(session)
    due = rhythm is not None and rhythm.active and rhythm.next_round_at is not None
    if due and rhythm.next_round_at <= ctx.now():
        made = await service.run_round(ctx, rhythm.next_round_at, scheduled=True)
        done += made is not None
    for group_id in await service.unintroduced(ctx):
        try:
            await service.introduce(ctx, group_id)
        except Exception:
            log.exception("introducing group %s failed; will try again", group_id)
    for round_id in await service.due_follow_ups(ctx):
        done += await service.follow_up(ctx, round_id)
    return done
