"""What members do around questions without a command: ✅ by the asker (solved) and ✋ on an
offer (route it). Both run only for reactions on posts the questions feature watches (open
questions' threads, open offers), found in memory. Replies and question-like messages need
no listener: first responses and offers are found in the activity log (see
`responses.note_first_responses` and `offers`), so nothing runs per message."""

from __future__ import annotations

from bot import emoji
from bot.context import Context
from bot.router import Router
from bot.types import ReactionAdded
from handlers.questions import offers, service, solving

router = Router()

ACCEPT_EMOJI = {"raised_hand", "hand", "✋"}


def _accept(event: ReactionAdded) -> bool:
    return emoji.name(event.emoji) in ACCEPT_EMOJI


def _solved(event: ReactionAdded) -> bool:
    return emoji.name(event.emoji) in emoji.SOLVED


@router.on(ReactionAdded, when=_accept, watch=offers.OFFERS)
async def accept_offer(ctx: Context, event: ReactionAdded) -> bool:
    return await offers.accept_by_reaction(ctx, ctx.sender, event.channel, event.message_id)


@router.on(ReactionAdded, when=_solved, watch=service.THREADS)
async def solved(ctx: Context, event: ReactionAdded) -> bool:
    async with ctx.db() as session:
        question = await service.in_thread(session, event.channel, event.message_id)
        if question is None and event.thread_id:  # on a message in the question's thread
            question = await service.in_thread(session, event.channel, event.thread_id)
    if question is None or question.asker_id != ctx.sender.member_id:
        return False
    if question.status == service.OPEN:
        await solving.solve(ctx, question.id, ctx.sender, None, via="reaction")
    return True
