"""Posting prompts: the next queued prompt in a channel, now (`prompt now`) or for one slot of
a weekly schedule (`jobs`). Each posting is a `prompt_runs` row keyed by (schedule, slot), so a
slot is posted once across restarts and replicas; the post goes through the outbox, which
tells `posted` the message it became."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import outbox, roles, timezones
from bot.context import Services
from bot.models import Channel, Prompt, PromptRun, PromptSchedule
from bot.router import Router
from bot.types import ChannelRef

log = logging.getLogger(__name__)

router = Router()


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
    """Queue the next prompt for `channel`: one never posted (oldest first), else the one
    posted least recently. The slot's run row, the prompt's turn and the post in the outbox
    are one transaction, so a slot is posted once and a prompt whose post was never queued
    keeps its turn. None when the slot was taken already, the queue is empty, or the
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
        prompt.used_at = ctx.now()
        run.prompt_id, run.text = prompt.id, prompt.text
        if schedule_id is not None:
            await session.execute(
                update(PromptSchedule)
                .where(PromptSchedule.id == schedule_id)
                .values(last_run_at=slot)
            )
        where = ChannelRef(channel.platform, channel.channel_id, channel.name)
        await outbox.post(ctx, subject(run.id), "prompt", where, run.text, session=session)
        await session.commit()
    return run


def subject(run_id: int) -> str:
    """The outbox subject of one posting of a prompt."""
    return f"prompt:{run_id}"


@router.delivered("prompt")
def posted(session: Session, notice: outbox.Delivered) -> None:
    """The post is up: its message is the thread where responses count."""
    run_id = int(notice.subject.partition(":")[2])
    session.execute(
        update(PromptRun)
        .where(PromptRun.id == run_id)
        .values(message_id=notice.message_id or "", posted_at=notice.sent_at)
    )


async def _queue_empty(ctx: Services, channel: Channel, schedule_id: int, slot: datetime) -> None:
    """Tell the facilitators, once per slot, that a schedule found the queue empty."""
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
    text = (
        f"A prompt was due in {channel.name or channel.channel_id} (schedule #{schedule_id}), "
        "but the queue is empty, so nothing was posted. Add one with `prompt add <text>`."
    )
    about = f"schedule:{schedule_id}@{slot.astimezone(UTC):%Y%m%dT%H%M}"
    told = [
        await outbox.dm(ctx, about, "empty", member.id, text, channel.platform)
        for member in facilitators
    ]
    if any(told):
        log.warning("schedule %s is due but the prompt queue is empty", schedule_id)
