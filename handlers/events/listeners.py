"""A ✅ or 👍 on an event's announcement counts as `rsvp <id> yes`."""

from __future__ import annotations

import re

from bot.context import Context
from bot.errors import CommandError
from bot.router import Router
from bot.types import ReactionAdded
from handlers.events import service

router = Router()

YES_EMOJI = {"white_check_mark", "+1", "thumbsup", "✅", "👍"}
_SKIN = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")


def _emoji(event: ReactionAdded) -> str:
    return _SKIN.sub("", event.emoji.strip(":")).split("::")[0]


@router.on(ReactionAdded, when=lambda e: _emoji(e) in YES_EMOJI, watch=service.ANNOUNCEMENTS)
async def reaction(ctx: Context, event: ReactionAdded) -> bool:
    async with ctx.db() as session:
        found = await service.announced_at(session, event.channel, event.message_id)
    if found is None:
        return False
    try:
        text = await service.rsvp(ctx, found.id, ctx.sender.member_id, service.YES)
    except CommandError as exc:
        text = str(exc)
    await ctx.platform.send_dm(event.user, text)
    return True
