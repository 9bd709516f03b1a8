"""The member behind a message's author, who is not the sender of the event being handled
(a shortcut is chosen by one person on another's message)."""

from __future__ import annotations

from dataclasses import replace

from bot import members, roles
from bot.claims import Sender
from bot.context import Services
from bot.platform import Platform
from bot.types import UserRef


async def resolve(ctx: Services, platform: Platform, user: UserRef) -> Sender:
    """The author as a member with their roles: found, or created (someone Convener has not
    seen yet) with the name and language their platform gives, as their own first event
    would have created them."""
    async with ctx.db() as session:
        known = await members.find(session, user)
    if known is None:
        name = await platform.display_name(user)
        user = replace(user, name=user.name or name, locale=await platform.locale(user))
    async with ctx.db() as session:
        member = await members.resolve(session, user, ctx.now())
        held = await session.run_sync(roles.roles_of, member.id, ctx.settings)
        await session.commit()
    return Sender(user, member, frozenset(held), is_new=known is None)
