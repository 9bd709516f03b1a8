"""Posting prompts: the next queued prompt in a channel, now (`prompt now`) or for one slot of
a weekly schedule (`jobs`). Each posting is a `prompt_runs` row keyed by (schedule, slot), so a
slot is posted once across restarts and replicas."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot import roles, timezones
from bot.context import Services
from bot.db import upsert
from bot.direct import dm_member
from bot.models import Channel, KeyValue, Prompt, PromptRun, PromptSchedule
from bot.notices import claim_then_send
from bot.types import ChannelRef

log = logging.getLogger(__name__)

EMPTY_SCOPE = "prompt-queue-empty"


def last_slot(schedule: PromptSchedule, now: datetime) -> datetime:
    """The most recent time at or before `now` this schedule was due (aware UTC)."""
    return timezones.last_slot(schedule.weekday, schedule.time_of_day, schedule.timezone, now)


async def post_slot(ctx: Services, schedule_id: int, slot: datetime) -> PromptRun | None:
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
    ctx: Services, channel: Channel, schedule_id: int | None = None, slot: datetime | None = None
) -> PromptRun | None:
    """Post the next prompt in `channel`: one never posted (oldest first), else the one
    posted least recently. None when the slot was posted already, the queue is empty, or the
    channel's platform is not running."""
    if channel.platform not in ctx.platforms:
        log.warning("prompts for %s cannot be posted: %s is not running", channel.name,
                    channel.platform)  # fmt: skip
        return None
    claimed, run = await claim_then_send(
        lambda: _claim(ctx, channel, schedule_id, slot),
        lambda taken: _post(ctx, channel, taken),
        lambda taken: _give_back(ctx, *taken),
    )
    return run if claimed else None


async def _claim(
    ctx: Services, channel: Channel, schedule_id: int | None, slot: datetime | None
) -> tuple[PromptRun, int, datetime | None] | None:
    """The slot's run row with the prompt it posts (the run, the prompt's id, when the prompt
    was used before); None when the slot was posted already or the queue is empty."""
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
    return run, prompt.id, used_before


async def _post(
    ctx: Services, channel: Channel, taken: tuple[PromptRun, int, datetime | None]
) -> PromptRun:
    run = taken[0]
    where = ChannelRef(channel.platform, channel.channel_id, channel.name)
    sent = await ctx.platforms[channel.platform].send(where, run.text)
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
    ctx: Services, run: PromptRun, prompt_id: int, used_before: datetime | None
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


async def _queue_empty(ctx: Services, channel: Channel, schedule_id: int, slot: datetime) -> None:
    """Tell the facilitators, once per slot, that a schedule found the queue empty."""
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
