"""Sending the weekly digest: a cron job at CONVENER_DIGEST_WEEKDAY / CONVENER_DIGEST_TIME in
the community's timezone (`off` disables it), and a catch-up on start for a slot missed while
the bot was down, when still within CONVENER_PROMPT_GRACE_HOURS.

Each facilitator's digest for a slot is a `digest_runs` row, claimed before it is sent and
deleted again if sending fails or is cancelled: it goes out once per week across restarts
and replicas, and a failed one is sent by the next run for that slot.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete

from bot import roles
from bot.context import Context
from bot.db import upsert
from bot.errors import UsageError
from bot.models import DigestRun
from bot.settings import Settings
from handlers.digest import service
from handlers.questions.service import dm_member
from schedules import when

if TYPE_CHECKING:
    from bot.app import Convener
    from schedules import Scheduler

log = logging.getLogger(__name__)

JOB_ID = "digest"
OFF = "off"
MIN_GRACE = timedelta(minutes=1)  # a job fires a moment after its slot, even with no grace


def schedule(settings: Settings) -> tuple[int, str] | None:
    """(weekday, "HH:MM") from the settings; None when the digest is off. Raises UsageError
    when a setting cannot be read."""
    if OFF in (settings.digest_weekday.strip().lower(), settings.digest_time.strip().lower()):
        return None
    return when.weekday(settings.digest_weekday), when.time_of_day(settings.digest_time)


def grace(settings: Settings) -> timedelta:
    return max(timedelta(hours=settings.prompt_grace_hours), MIN_GRACE)


def register(app: Convener, scheduler: Scheduler) -> bool:
    """Add the weekly digest job; False (and nothing added) when it is off or misconfigured.
    Never raises: a bad setting is logged and the bot starts without the digest."""
    settings = app.settings
    try:
        found = schedule(settings)
        if found is None:
            log.info("weekly digest is off (CONVENER_DIGEST_WEEKDAY=off)")
            return False
        day, at = found
        hour, minute = at.split(":")
        trigger = CronTrigger(
            day_of_week=when.WEEKDAYS[day][:3],
            hour=int(hour),
            minute=int(minute),
            timezone=settings.timezone,
        )
        scheduler.add_job(
            run,
            trigger,
            args=(app,),
            id=JOB_ID,
            replace_existing=True,
            misfire_grace_time=int(grace(settings).total_seconds()),
            coalesce=True,
            max_instances=1,
        )
    except UsageError as exc:
        log.error(
            "weekly digest not scheduled: CONVENER_DIGEST_WEEKDAY=%r, CONVENER_DIGEST_TIME=%r: "
            "%s Use a weekday such as monday, a time such as 08:00, or off.",
            settings.digest_weekday[:20], settings.digest_time[:20], exc,
        )  # fmt: skip
        return False
    except Exception:
        log.exception("weekly digest not scheduled")
        return False
    log.info("weekly digest scheduled: %s %s (%s)", when.WEEKDAYS[day], at, settings.timezone)
    return True


async def run(app: Convener) -> None:
    """The job APScheduler runs at the digest's time."""
    try:
        sent = await send_weekly(app.context())
        log.info("weekly digest sent to %d facilitators", sent)
    except Exception:
        log.exception("sending the weekly digest failed")


async def catch_up(app: Convener) -> int:
    """On start: send this week's digest if its slot was missed while down (within grace)."""
    return await send_weekly(app.context())


async def send_weekly(ctx: Context) -> int:
    """Send the current slot's digest to every facilitator who has not had it; returns how
    many were sent. Nothing when the digest is off or the slot is older than the grace."""
    try:
        found = schedule(ctx.settings)
    except UsageError:
        return 0  # logged when the job was (not) registered
    if found is None:
        return 0
    now = ctx.now()
    slot = when.last_slot(*found, ctx.settings.timezone, now)
    late = now - slot
    if late > grace(ctx.settings):
        log.info(
            "weekly digest: its last slot (%s) was %.1f h ago, past the %g h grace; "
            "nothing sent now",
            slot.isoformat(), late.total_seconds() / 3600, ctx.settings.prompt_grace_hours,
        )  # fmt: skip
        return 0
    if ctx.activity is not None:
        await ctx.activity.flush()  # a facilitator seen a moment ago is a member
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
    text: str | None = None
    sent = 0
    for member in facilitators:
        if member.is_bot or not await _claim(ctx, slot, member.id, now):
            continue
        try:
            if text is None:
                text = await service.build(ctx, now)
            reached = await dm_member(ctx, member.id, text, ctx.platform.name)
        except BaseException as exc:  # cancelled by shutdown too: the week is not used up
            await asyncio.shield(_give_back(ctx, slot, member.id))
            if not isinstance(exc, Exception):
                raise
            log.warning("weekly digest: could not send to member %s: %s", member.id, exc)
            continue
        if not reached:
            await _give_back(ctx, slot, member.id)
            log.warning("weekly digest: member %s has no account on a running platform", member.id)
            continue
        sent += 1
    if not facilitators:
        log.warning("weekly digest: there is no facilitator to send it to")
    return sent


async def _claim(ctx: Context, slot: datetime, member_id: int, now: datetime) -> bool:
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, DigestRun)
            .values(slot=slot, member_id=member_id, sent_at=now)
            .on_conflict_do_nothing()
            .returning(DigestRun.id)
        )
        await session.commit()
    return claimed is not None


async def _give_back(ctx: Context, slot: datetime, member_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            delete(DigestRun).where(DigestRun.slot == slot, DigestRun.member_id == member_id)
        )
        await session.commit()
