"""Weekly prompt schedules on the scheduler: each schedule is a row (`prompt_schedules`) with
a job of its own. At start every active schedule gets its job and the slots missed while the
bot was down are posted when more recent than `CONVENER_PROMPT_GRACE_HOURS` (older ones are
skipped); every minute the jobs are matched to the rows again, since commands (here or at
another replica) only write rows."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from sqlalchemy import select

from bot.context import JobContext, Services
from bot.models import PromptSchedule
from bot.router import Router
from handlers.prompts import service

log = logging.getLogger(__name__)

router = Router()
PREFIX = "prompt-"


def job_id(schedule_id: int) -> str:
    return f"{PREFIX}{schedule_id}"


async def _active(ctx: Services) -> list[PromptSchedule]:
    async with ctx.db() as session:
        return list(
            (
                await session.scalars(select(PromptSchedule).where(PromptSchedule.active.is_(True)))
            ).all()
        )


def _register(ctx: JobContext, schedule: PromptSchedule) -> None:
    ctx.timetable.weekly(
        job_id(schedule.id),
        (schedule.weekday, schedule.time_of_day, schedule.timezone),
        functools.partial(run_due, schedule_id=schedule.id),
        timedelta(hours=ctx.settings.prompt_grace_hours),
    )


@router.at_start("prompts")
async def start(ctx: JobContext) -> int:
    """Give every active schedule its job, then post the slots missed while down."""
    for schedule in await _active(ctx):
        _register(ctx, schedule)
    return await catch_up(ctx)


@router.every("prompt-sync", minutes=1)
async def sync(ctx: JobContext) -> int:
    """Give schedules added since (here or at another replica) their jobs, drop the jobs of
    the ones removed, and post any slot that came due before its job was there."""
    active = await _active(ctx)
    wanted = {job_id(schedule.id) for schedule in active}
    present = {j for j in ctx.timetable.ids(PREFIX) if j[len(PREFIX) :].isdigit()}
    for stale in present - wanted:
        ctx.timetable.remove(stale)
    for schedule in active:
        if job_id(schedule.id) not in present:
            _register(ctx, schedule)
    return await catch_up(ctx)


async def catch_up(ctx: Services) -> int:
    """Post the slots missed while the bot was down, when still within the grace period."""
    now = ctx.now()
    grace = timedelta(hours=ctx.settings.prompt_grace_hours)
    posted = 0
    for schedule in await _active(ctx):
        slot = service.last_slot(schedule, now)
        if now - slot > grace or slot < schedule.created_at:
            continue
        if schedule.last_run_at is not None and schedule.last_run_at >= slot:
            continue
        try:
            if await service.post_slot(ctx, schedule.id, slot) is not None:
                posted += 1
        except Exception:  # one schedule's failure never keeps the others from catching up
            log.exception("catching up schedule %s (slot %s) failed", schedule.id, slot)
    return posted


async def run_due(ctx: Services, schedule_id: int) -> None:
    """What runs at a schedule's time."""
    async with ctx.db() as session:
        schedule = await session.get(PromptSchedule, schedule_id)
    if schedule is None or not schedule.active:
        return
    await service.post_slot(ctx, schedule_id, service.last_slot(schedule, ctx.now()))
