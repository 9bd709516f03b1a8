"""`digest`: the facilitators' weekly digest, now, to the facilitator who asks."""

from __future__ import annotations

from bot import roles
from bot.commands import Command
from bot.context import Context
from bot.i18n import Message, _
from bot.router import Router
from handlers.digest import service

router = Router()


@router.command(
    "digest",
    extra=_("Just `digest`."),
    summary="the weekly digest, now",
    example="digest",
    roles=[roles.FACILITATOR],
)
async def digest(ctx: Context, cmd: Command) -> Message:
    return await service.build(ctx, ctx.now())
