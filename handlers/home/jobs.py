"""Publishing stale pages, paced: Slack's `views.publish` allows 100 and more calls a minute
(Tier 4); `PER_RUN` pages every `EVERY_SECONDS` stay under it, beside the pages published
when members open them. Only the replica that runs the scheduler publishes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot import roles
from bot.context import Services
from bot.home import Viewer
from bot.platform import RateLimited, Undeliverable
from bot.router import Router
from handlers.home import tabs
from handlers.home.build import Sections, build

log = logging.getLogger(__name__)

EVERY_SECONDS = 5.0
PER_RUN = 8


def router(sections: Sections) -> Router:
    jobs = Router()
    held: dict[str, datetime] = {}  # platform -> when it lets pages be published again

    @jobs.every("home", seconds=EVERY_SECONDS)
    async def republish(ctx: Services) -> int:
        return await publish_stale(ctx, sections, held)

    return jobs


async def publish_stale(
    ctx: Services, sections: Sections, held: dict[str, datetime], limit: int = PER_RUN
) -> int:
    """Publish up to `limit` stale pages; how many were published. "Slow down" holds that
    platform's pages for as long as it asked (`held`); a failure holds that page back a
    while."""
    now = ctx.now()
    platforms = [name for name in ctx.platforms if held.get(name, now) <= now]
    published = 0
    for tab in await tabs.stale(ctx.db, platforms, now, limit):
        if held.get(tab.user.platform, now) > now:
            continue
        holds = await ctx.db.read(roles.roles_of, tab.member_id, ctx.settings)
        who = Viewer(tab.member_id, frozenset(holds), tab.user, tab.timezone)
        page = await build(ctx, sections, who)
        try:
            shown = await ctx.platforms[tab.user.platform].publish_home(tab.user, page)
        except RateLimited as exc:
            log.info("home pages: %s says slow down (%.0f s); the rest wait", tab.user.platform,
                     exc.retry_after)  # fmt: skip
            held[tab.user.platform] = now + timedelta(seconds=exc.retry_after)
            continue
        except Undeliverable as exc:
            log.info("home of %s:%s dropped: %s", tab.user.platform, tab.user.id, exc)
            await tabs.forget(ctx.db, tab)
            continue
        except Exception as exc:
            log.warning("could not publish the home of %s:%s (%s: %s); trying again later",
                        tab.user.platform, tab.user.id, type(exc).__name__,
                        str(exc)[:200])  # fmt: skip
            await tabs.failed(ctx.db, tab, now)
            continue
        await tabs.published(ctx.db, tab, now)
        published += int(shown)
    return published
