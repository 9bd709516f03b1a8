"""The profile's section of a member's home: their profile as `profile` shows it, with an
Edit button (a form where the platform has forms; the commands to type elsewhere). Beside
`handlers.profiles`, whose rendering it uses."""

from __future__ import annotations

from bot.context import Services
from bot.home import Viewer
from bot.i18n import _
from bot.models import Member
from bot.router import Router
from bot.types import Action, Item, Section
from handlers.profiles import render_profile

router = Router()


@router.home("profile", order=10)
async def profile(ctx: Services, viewer: Viewer) -> Section | None:
    async with ctx.db() as session:
        member = await session.get(Member, viewer.member_id)
        if member is None:
            return None
        text = await render_profile(session, member, own=False, known=ctx.languages)
    return Section(_("Your profile"), (Item(text),), (Action(_("Edit"), "form profile"),))
