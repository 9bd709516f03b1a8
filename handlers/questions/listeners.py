"""What members do around questions without a command: replies in a question's thread (the
first response), ✅ by the asker (solved) and ✋ on an offer (route it). Question-like
messages need no listener: the offer job finds them in the activity log."""

from __future__ import annotations

from bot.context import Context
from bot.router import Router
from bot.types import Message, ReactionAdded
from handlers.questions import offers, service

router = Router()

SOLVED_EMOJI = {"white_check_mark", "heavy_check_mark", "ballot_box_with_check", "✅", "✔", "☑"}
ACCEPT_EMOJI = {"raised_hand", "hand", "✋"}


def _emoji(event: ReactionAdded) -> str:
    return event.emoji.strip(":").replace("\ufe0f", "").split("::")[0]


@router.on(Message, when=lambda e: e.is_reply and not e.channel.is_direct)
async def reply_in_thread(ctx: Context, event: Message) -> bool:
    assert ctx.sender is not None and event.thread_id is not None
    async with ctx.db() as session:
        question = await service.in_thread(session, event.channel, event.thread_id)
    if question is not None:
        await service.first_response(ctx, question, ctx.sender)
    return False


@router.on(ReactionAdded, when=lambda e: _emoji(e) in SOLVED_EMOJI | ACCEPT_EMOJI)
async def reaction(ctx: Context, event: ReactionAdded) -> bool:
    assert ctx.sender is not None
    if _emoji(event) in ACCEPT_EMOJI:
        return await offers.accept_by_reaction(ctx, ctx.sender, event.channel, event.message_id)
    async with ctx.db() as session:
        question = await service.in_thread(session, event.channel, event.message_id)
        if question is None and event.thread_id:  # on a message in the question's thread
            question = await service.in_thread(session, event.channel, event.thread_id)
    if question is None or question.asker_id != ctx.sender.member_id:
        return False
    if question.status == service.OPEN:
        await service.solve(ctx, question.id, ctx.sender, None, via="reaction")
    return True
