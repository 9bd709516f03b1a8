"""The page a member opens on their platform (Slack's Home tab): published at once when they
open it; marked stale after each command of theirs, since a command may change what it shows
(their profile, their language, an answer), decided in memory for members who opened one."""

from __future__ import annotations

import logging

from bot import home
from bot.commands import Command
from bot.context import Context
from bot.router import Router
from bot.types import HomeOpened
from handlers.home import tabs
from handlers.home.build import Sections, build, viewer

log = logging.getLogger(__name__)


def router(sections: Sections) -> Router:
    listeners = Router()

    @listeners.on(HomeOpened)
    async def show(ctx: Context, event: HomeOpened) -> bool:
        tab = await tabs.opened(ctx.db, event.user, ctx.now())
        ctx.watch(tabs.OPENED, event.platform, event.user.id)
        page = await build(ctx, sections, viewer(ctx))
        try:
            shown = await ctx.platform.publish_home(event.user, page)
        except Exception as exc:  # the job publishes it again shortly
            log.warning("could not publish the home of %s:%s (%s: %s)", event.platform,
                        event.user.id, type(exc).__name__, str(exc)[:200])  # fmt: skip
            if tab is not None:
                await tabs.failed(ctx.db, tab, ctx.now())
            return True
        if shown and tab is not None:
            await tabs.published(ctx.db, tab, ctx.now())
        return True

    @listeners.after_command(watch=tabs.OPENED)
    async def stale(ctx: Context, cmd: Command) -> None:
        async with ctx.db() as session:
            await home.changed(session, [ctx.sender.member_id])
            await session.commit()

    return listeners
