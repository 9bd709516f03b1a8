"""A reply yes or no to a group's follow-up (in its thread), or 👍 / 👎 on it, answers it
like `met yes|no`. Both run only for events on watched follow-ups, found in memory."""

from __future__ import annotations

from bot import emoji
from bot.context import Context
from bot.errors import CommandError
from bot.router import Router
from bot.types import Message, ReactionAdded
from bot.watch import reacted_posts
from handlers.intros import service

router = Router()

YES_EMOJI = {"+1", "thumbsup", "👍", "white_check_mark", "✅"}
NO_EMOJI = {"-1", "thumbsdown", "👎"}
YES_WORDS = {"yes", "y", "oui", "sí", "si", "sim"}
NO_WORDS = {"no", "n", "non", "não", "nao", "not yet"}


def _said(text: str) -> bool | None:
    words = " ".join(text.lower().strip(" .!").split())
    if words in YES_WORDS:
        return True
    if words in NO_WORDS:
        return False
    return None


def _reaction(event: ReactionAdded) -> bool | None:
    name = emoji.name(event.emoji)
    if name in YES_EMOJI:
        return True
    if name in NO_EMOJI:
        return False
    return None


async def _record(ctx: Context, event: Message | ReactionAdded, met: bool) -> bool:
    keys = [key.split(" ", 1)[1] for key in reacted_posts(event)]
    async with ctx.db() as session:
        group = await service.group_of_follow_up(session, event.channel, keys)
    if group is None:
        return False
    try:
        text = await service.answer(ctx, ctx.sender.member_id, met, group.id)
    except CommandError:  # not a member of this group
        return False
    await ctx.platform.send_dm(event.user, text)
    return True


@router.on(Message, when=lambda e: bool(e.thread_id) and _said(e.text) is not None,
           watch=service.FOLLOW_UPS)  # fmt: skip
async def reply(ctx: Context, event: Message) -> bool:
    return await _record(ctx, event, bool(_said(event.text)))


@router.on(ReactionAdded, when=lambda e: _reaction(e) is not None, watch=service.FOLLOW_UPS)
async def reaction(ctx: Context, event: ReactionAdded) -> bool:
    return await _record(ctx, event, bool(_reaction(event)))
