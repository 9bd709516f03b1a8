"""`report [from [to]] [pseudonymous]` (the engagement workbook, by direct message) and
`stats [days]` (a short text summary), for facilitators and coordinators."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot import audit, roles
from bot.arguments import Days, Rest
from bot.commands import Command, split_words
from bot.context import Context
from bot.i18n import Message, Number, _, join, n_, render
from bot.router import Router
from bot.types import OutboundFile
from bot.workbook import XLSX
from handlers.reports.build import pull_detail, stats, write_report
from handlers.reports.period import parse_period

router = Router()
WHO = [roles.FACILITATOR, roles.COORDINATOR]
PSEUDONYMOUS = ("pseudonymous", "pseudonyms", "anon")


@dataclass(frozen=True)
class Asked:
    """What `report` was asked for: up to two dates as typed (`parse_period` reads them) and
    whether members are shown by pseudonym."""

    dates: tuple[str, ...] = ()
    pseudonymous: bool = False


@dataclass(frozen=True)
class ReportWords(Rest):
    """`[YYYY-MM-DD [YYYY-MM-DD]] [pseudonymous]`, the rest of the text: the second date
    only after the first, and the word `pseudonymous` (or `anon`) last."""

    name: str = "period"
    label: str = "[YYYY-MM-DD [YYYY-MM-DD]] [pseudonymous]"
    default: Any = Asked()

    @property
    def usage(self) -> str:
        return self.label

    def parse(self, word: str) -> Asked:
        words = split_words(word)
        pseudonymous = words[-1].lower() in PSEUDONYMOUS
        return Asked(tuple(words[:-1] if pseudonymous else words), pseudonymous)


@router.command(
    "report",
    args=[ReportWords()],
    summary="the engagement workbook, sent to you directly",
    example="report 2026-01-01 2026-03-31 pseudonymous",
    roles=WHO,
)
async def report(ctx: Context, cmd: Command) -> Message:
    asked = cmd.values.period
    language = ctx.languages.of_member(ctx.sender.member)
    pseudonymous = asked.pseudonymous
    today = ctx.now().astimezone(ZoneInfo(ctx.settings.timezone)).date()
    period = parse_period(list(asked.dates), today, ctx.settings.timezone)
    await ctx.activity.flush()
    buffer = io.BytesIO()
    await asyncio.to_thread(
        write_report, ctx.db.sync_url, period, buffer, now=ctx.now(),
        timezone=ctx.settings.timezone, pseudonymous=pseudonymous,
        community=ctx.settings.community_name, language=language,
    )  # fmt: skip
    name = f"engagement-{period.first_day}-to-{period.last_day}.xlsx"
    title = render(_("Engagement {period}", period=period.said()), language)
    await ctx.platform.send_file(
        cmd.sender,
        OutboundFile(name, buffer.getvalue(), title, XLSX),
        _("Your engagement report for {period} (pseudonymous).", period=period.said())
        if pseudonymous
        else _("Your engagement report for {period}.", period=period.said()),
    )
    async with ctx.db() as session:
        audit.record(
            session, audit.REPORT, ctx.now(), actor_id=ctx.sender.member_id,
            detail=pull_detail(period, pseudonymous),
        )  # fmt: skip
        await session.commit()
    if cmd.channel.is_direct:  # the answer comes in the direct chat, below the file
        return _("The report for {period} is above.", period=period.said())
    return _("I sent you the report for {period} as a direct message.", period=period.said())


@router.command(
    "stats",
    args=[Days(default=7, most=3 * 365, example="stats 30", label="days")],
    extra=_("Give a number of days, for example: {example}", example="stats 30"),
    summary="a short summary of the last days (default 7)",
    example="stats 30",
    roles=WHO,
)
async def show_stats(ctx: Context, cmd: Command) -> Message:
    days = cmd.values.days
    today = ctx.now().astimezone(ZoneInfo(ctx.settings.timezone)).date()
    period = parse_period([], today, ctx.settings.timezone, default_days=days)
    await ctx.activity.flush()
    figures = await asyncio.to_thread(stats, ctx.db.sync_url, period, ctx.now())
    median = (
        _("{hours} h", hours=Number(figures.median_hours, places=1))
        if figures.median_hours is not None
        else _("no answers yet")
    )
    return join(
        (
            n_("Last {n} day ({period}):", "Last {n} days ({period}):", days,
               period=period.said()),
            n_("{count} posting-active member, {new} new.",
               "{count} posting-active members, {new} new.", figures.active,
               count=Number(figures.active), new=Number(figures.new)),
            _("{messages}, {replies}, {reactions}.",
              messages=n_("{count} message", "{count} messages", figures.messages,
                          count=Number(figures.messages)),
              replies=n_("{count} reply", "{count} replies", figures.replies,
                         count=Number(figures.replies)),
              reactions=n_("{count} reaction", "{count} reactions", figures.reactions,
                           count=Number(figures.reactions))),
            _("Questions: {asked} asked, {answered} answered, median time to first response "
              "{median}.", asked=Number(figures.asked), answered=Number(figures.answered),
              median=median),
            _("Prompt responses: {count}.", count=Number(figures.prompt_responses)),
        ),
        " ",
    )  # fmt: skip
