"""`home`: the member's own summary as text, in their language, on every platform."""

from __future__ import annotations

from bot.commands import Command
from bot.context import Context
from bot.i18n import Message, _
from bot.router import Router
from handlers.home.build import Sections, build, viewer
from handlers.home.text import as_text


def router(sections: Sections) -> Router:
    commands = Router()

    @commands.command(
        "home",
        extra=_("Just `home`."),
        summary="your own questions, events and calls",
    )
    async def home(ctx: Context, cmd: Command) -> Message:
        return as_text(await build(ctx, sections, viewer(ctx)))

    return commands
