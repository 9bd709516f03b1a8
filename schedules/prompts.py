"""Weekly discussion prompts: the schedules are rows (`prompt_schedules`), registered in
memory with APScheduler on start; each posting is a `prompt_runs` row keyed by (schedule,
slot), so a slot is posted once across restarts and replicas.

A slot missed while the bot was down is posted on start if it is more recent than
`CONVENER_PROMPT_GRACE_HOURS`; older ones are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot import roles
from bot.context import Context
from bot.db import upsert
from bot.models import Channel, KeyValue, Prompt, PromptRun, PromptSchedule
from bot.types import ChannelRef
from schedules import when

if TYPE_CHECKING:
    from bot.app import Convener
    from schedules import Scheduler

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EMPTY_SCOPE = "prompt-queue-empty"


def job_id(schedule_id: int) -> str:
    return f"prompt-{schedule_id}"


def last_slot(schedule: PromptSchedule, now: datetime) -> datetime:
    """The most recent time at or before `now` this schedule was due (aware UTC)."""
    return when.last_slot(schedule.weekday, schedule.time_of_day, schedule.timezone, now)


class _Triggers:
    """One CronTrigger per distinct (weekday, time, timezone): schedules share them."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, str], CronTrigger] = {}

    def __call__(self, weekday: int, time_of_day: str, timezone: str) -> CronTrigger:
        key = (weekday, time_of_day, timezone)
        trigger = self._cache.get(key)
        if trigger is None:
            hour, minute = time_of_day.split(":")
            trigger = CronTrigger(
                day_of_week=WEEKDAYS[weekday], hour=int(hour), minute=int(minute), timezone=timezone
            )
            self._cache[key] = trigger
        return trigger


triggers = _Triggers()


def register(scheduler: Scheduler, app: Convener, schedule: PromptSchedule) -> None:
    grace = int(app.settings.prompt_grace_hours * 3600) or 1
    scheduler.add_job(
        run_due,
        triggers(schedule.weekday, schedule.time_of_day, schedule.timezone),
        args=(app, schedule.id),
        id=job_id(schedule.id),
        replace_existing=True,
        misfire_grace_time=grace,
        coalesce=True,
        max_instances=1,
    )


def unregister(scheduler: Scheduler, schedule_id: int) -> None:
    if scheduler.get_job(job_id(schedule_id)) is not None:
        scheduler.remove_job(job_id(schedule_id))


async def load(app: Convener, scheduler: Scheduler) -> int:
    """Register every active schedule; returns how many."""
    async with app.db.sessions() as session:
        rows = (
            await session.scalars(select(PromptSchedule).where(PromptSchedule.active.is_(True)))
        ).all()
    for schedule in rows:
        register(scheduler, app, schedule)
    return len(rows)


async def sync(app: Convener, scheduler: Scheduler) -> int:
    """Every minute: register schedules added since (here or by another replica), drop the
    ones removed, and post any slot that came due before its job was registered. Commands
    only write rows; this is how the running scheduler hears of them."""
    async with app.db.sessions() as session:
        active = (
            await session.scalars(select(PromptSchedule).where(PromptSchedule.active.is_(True)))
        ).all()
    wanted = {job_id(schedule.id) for schedule in active}
    for job in scheduler.aps.get_jobs():
        if job.id.startswith("prompt-") and job.id != "prompt-sync" and job.id not in wanted:
            scheduler.remove_job(job.id)
    for schedule in active:
        if scheduler.get_job(job_id(schedule.id)) is None:
            register(scheduler, app, schedule)
    return await catch_up(app)


async def catch_up(app: Convener) -> int:
    """Post the slots missed while the bot was down, when still within the grace period."""
    now = app.clock()
    grace = timedelta(hours=app.settings.prompt_grace_hours)
    posted = 0
    async with app.db.sessions() as session:
        schedules = (
            await session.scalars(select(PromptSchedule).where(PromptSchedule.active.is_(True)))
        ).all()
    for schedule in schedules:
        slot = last_slot(schedule, now)
        if now - slot > grace or slot < schedule.created_at:
            continue
        if schedule.last_run_at is not None and schedule.last_run_at >= slot:
            continue
        try:
            if await post_slot(app.context(), schedule.id, slot) is not None:
                posted += 1
        except Exception:  # one schedule's failure never keeps the others from catching up
            log.exception("catching up schedule %s (slot %s) failed", schedule.id, slot)
    return posted


async def run_due(app: Convener, schedule_id: int) -> None:
    """The job APScheduler runs at a schedule's time."""
    async with app.db.sessions() as session:
        schedule = await session.get(PromptSchedule, schedule_id)
    if schedule is None or not schedule.active:
        return
    try:
        await post_slot(app.context(), schedule_id, last_slot(schedule, app.clock()))
    except Exception:
        log.exception("posting prompt for schedule %s failed", schedule_id)


async def post_slot(ctx: Context, schedule_id: int, slot: datetime) -> PromptRun | None:
    """Post the next prompt for one slot of a schedule, once across restarts and replicas:
    the slot's run row is claimed first; a post that fails (or is cancelled by shutdown)
    gives it back. An empty queue at a slot tells the facilitators, once."""
    async with ctx.db() as session:
        schedule = await session.get(PromptSchedule, schedule_id)
        channel = await session.get(Channel, schedule.channel_id) if schedule else None
    if schedule is None or channel is None:
        return None
    return await post_next(ctx, channel, schedule_id, slot)


async def post_next(
    ctx: Context, channel: Channel, schedule_id: int | None = None, slot: datetime | None = None
) -> PromptRun | None:
    """Post the next prompt in `channel`: one never posted (oldest first), else the one
    posted least recently. None when the slot was posted already, the queue is empty, or the
    channel's platform is not running."""
    if channel.platform not in ctx.platforms:
        log.warning("prompts for %s cannot be posted: %s is not running", channel.name,
                    channel.platform)  # fmt: skip
        return None
    async with ctx.db() as session:
        run = PromptRun(
            schedule_id=schedule_id,
            slot=slot,
            channel_id=channel.id,
            message_id="",
            text="",
            posted_at=ctx.now(),
        )
        session.add(run)
        try:
            await session.flush()
        except IntegrityError:
            return None  # this slot was posted already (another replica, or before a restart)
        prompt = await session.scalar(
            select(Prompt)
            .order_by(Prompt.used_at.is_not(None), Prompt.used_at, Prompt.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if prompt is None:
            await session.rollback()
            if schedule_id is not None and slot is not None:
                await _queue_empty(ctx, channel, schedule_id, slot)
            return None
        used_before = prompt.used_at
        prompt.used_at = ctx.now()
        run.prompt_id, run.text = prompt.id, prompt.text
        if schedule_id is not None:
            await session.execute(
                update(PromptSchedule)
                .where(PromptSchedule.id == schedule_id)
                .values(last_run_at=slot)
            )
        await session.commit()
    where = ChannelRef(channel.platform, channel.channel_id, channel.name)
    try:
        sent = await ctx.on(channel.platform).platform.send(where, prompt.text)
    except BaseException:  # cancelled by shutdown too: the slot is not used up silently
        await asyncio.shield(_give_back(ctx, run, prompt.id, used_before))
        raise
    async with ctx.db() as session:
        await session.execute(
            update(PromptRun)
            .where(PromptRun.id == run.id)
            .values(message_id=sent.message_id, posted_at=ctx.now())
        )
        await session.commit()
    run.message_id = sent.message_id
    return run


async def _give_back(
    ctx: Context, run: PromptRun, prompt_id: int, used_before: datetime | None
) -> None:
    """Undo a run whose post did not go out, so the slot and the prompt can be used again."""
    async with ctx.db() as session:
        await session.execute(delete(PromptRun).where(PromptRun.id == run.id))
        await session.execute(
            update(Prompt).where(Prompt.id == prompt_id).values(used_at=used_before)
        )
        if run.schedule_id is not None:
            await session.execute(
                update(PromptSchedule)
                .where(PromptSchedule.id == run.schedule_id, PromptSchedule.last_run_at == run.slot)
                .values(last_run_at=None)
            )
        await session.commit()


async def _queue_empty(ctx: Context, channel: Channel, schedule_id: int, slot: datetime) -> None:
    """Tell the facilitators, once per slot, that a schedule found the queue empty."""
    from handlers.questions.service import dm_member

    key = f"{schedule_id}@{slot.astimezone(UTC):%Y-%m-%dT%H:%M}"
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, KeyValue)
            .values(scope=EMPTY_SCOPE, key=key, value="told", updated_at=ctx.now())
            .on_conflict_do_nothing()
            .returning(KeyValue.key)
        )
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
        await session.commit()
    if claimed is None:
        return
    log.warning("schedule %s is due but the prompt queue is empty", schedule_id)
    text = (
        f"A prompt was due in {channel.name or channel.channel_id} (schedule #{schedule_id}), "
        "but the queue is empty, so nothing was posted. Add one with `prompt add <text>`."
    )
    for member in facilitators:
        try:
            await dm_member(ctx, member.id, text, channel.platform)
        except Exception as exc:
            log.warning("could not tell facilitator %s about the empty queue: %s", member.id, exc)
