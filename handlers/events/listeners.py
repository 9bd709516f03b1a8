"""A ✅ or 👍 on an event's announcement counts as `rsvp <id> yes`."""

from __future__ import annotations

from bot import emoji
from bot.context import Context
from bot.errors import CommandError
from bot.router import Router
from bot.types import ReactionAdded
from handlers.events import service

router = Router()

YES_EMOJI = {"white_check_mark", "+1", "thumbsup", "✅", "👍"}


def _yes(event: ReactionAdded) -> bool:
    return emoji.name(event.emoji) in YES_EMOJI


@router.on(ReactionAdded, when=_yes, watch=service.ANNOUNCEMENTS)
async def reaction(ctx: Context, event: ReactionAdded) -> bool:
    async with ctx.db() as session:
        found = await service.announced_at(session, event.channel, event.message_id)
    if found is None:
        return False
    try:
        text = await service.rsvp(ctx, found.id, ctx.sender.member_id, service.YES)
    except CommandError as exc:
        text = exc.message
    await ctx.platform.send_dm(event.user, text)
    return True
