"""The reports feature's section of a facilitator's or coordinator's home: this week's
figures beside last week's (the report's own queries, `build.stats`), and the buttons for
the engagement report and the weekly digest."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import roles
from bot.context import Services
from bot.home import Viewer
from bot.i18n import Message, Number, _, lines
from bot.router import Router
from bot.types import Action, Item, Section
from handlers.reports.build import Stats, stats
from handlers.reports.period import Period, from_days

router = Router()


def weeks(now: datetime, timezone: str) -> tuple[Period, Period]:
    """This week so far (from Monday, in the community's timezone) and the whole of last
    week."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    monday = today - timedelta(days=today.weekday())
    return (
        from_days(monday, today, timezone),
        from_days(monday - timedelta(days=7), monday - timedelta(days=1), timezone),
    )


@router.home("figures", order=100, roles=[roles.FACILITATOR, roles.COORDINATOR])
async def figures(ctx: Services, viewer: Viewer) -> Section:
    this, last = weeks(ctx.now(), ctx.settings.timezone)
    await ctx.activity.flush()
    now, before = await asyncio.to_thread(_both, ctx.db.sync_url, this, last, ctx.now())
    return Section(
        _("This week, beside last week"),
        (Item(_compared(now, before)),),
        (
            Action(_("Engagement report"), "report"),
            Action(_("Weekly digest"), "digest"),
        ),
    )


def _both(url, this: Period, last: Period, now: datetime) -> tuple[Stats, Stats]:
    return stats(url, this, now), stats(url, last, now)


def _compared(now: Stats, before: Stats) -> Message:
    def pair(this: int, last: int) -> dict[str, Number]:
        return {"now": Number(this), "before": Number(last)}

    return lines(
        _("Posting-active members: {now} (last week {before})",
          **pair(now.active, before.active)),
        _("New members: {now} (last week {before})", **pair(now.new, before.new)),
        _("Messages and replies: {now} (last week {before})",
          **pair(now.messages + now.replies, before.messages + before.replies)),
        _("Questions asked: {now} (last week {before})", **pair(now.asked, before.asked)),
        _("Questions answered: {now} (last week {before})",
          **pair(now.answered, before.answered)),
        _("Prompt responses: {now} (last week {before})",
          **pair(now.prompt_responses, before.prompt_responses)),
    )  # fmt: skip
