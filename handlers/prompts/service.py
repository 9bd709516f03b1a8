"""Posting prompts: the next queued prompt in a channel, now (`prompt now`) or for one slot of
a weekly schedule (`jobs`). Each posting is a `prompt_runs` row keyed by (schedule, slot), so a
slot is posted once across restarts and replicas; the post goes through the outbox, which
tells `posted` the message it became."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import outbox, roles, timezones
from bot.context import Services
from bot.i18n import _, lines, verbatim
from bot.models import Channel, Prompt, PromptRun, PromptSchedule
from bot.router import Router
from bot.types import ChannelRef

if TYPE_CHECKING:
    from bot.languages import Languages

log = logging.getLogger(__name__)

router = Router()


def last_slot(schedule: PromptSchedule, now: datetime) -> datetime:
    """The most recent time at or before `now` this schedule was due (aware UTC)."""
    return timezones.last_slot(schedule.weekday, schedule.time_of_day, schedule.timezone, now)


async def post_slot(ctx: Services, schedule_id: int, slot: datetime) -> PromptRun | None:
    """Queue the next prompt for one slot of a schedule, once across restarts and replicas
    (`post_next`). An empty queue at a slot tells the facilitators, once."""
    taken = await ctx.db.unit(
        _take, schedule_id, None, slot, ctx.now(), frozenset(ctx.platforms), ctx.languages
    )
    return await _after(ctx, taken, schedule_id, slot)


async def post_next(
    ctx: Services, channel: Channel, schedule_id: int | None = None, slot: datetime | None = None
) -> PromptRun | None:
    """Queue the next prompt for `channel`: one never posted (oldest first), else the one
    posted least recently. The slot's run row, the prompt's turn and the post in the outbox
    are one unit of work, so a slot is posted once and a prompt whose post was never queued
    keeps its turn. None when the slot was taken already, the queue is empty, or the
    channel's platform is not running."""
    taken = await ctx.db.unit(
        _take, schedule_id, channel.id, slot, ctx.now(), frozenset(ctx.platforms), ctx.languages
    )
    return await _after(ctx, taken, schedule_id, slot)


QUEUED, TAKEN, EMPTY, GONE, NOT_RUNNING = "queued", "taken", "empty", "gone", "not running"


def _take(
    session: Session,
    schedule_id: int | None,
    channel_id: int | None,
    slot: datetime | None,
    now: datetime,
    running: frozenset[str],
    languages: Languages,
) -> tuple[str, PromptRun | None, ChannelRef | None]:
    """The unit of work behind `post_next`: (outcome, the run queued, the channel). The
    post is the facilitator's prompt as written, queued in the channel's language."""
    if channel_id is None:
        schedule = session.get(PromptSchedule, schedule_id)
        if schedule is None:
            return GONE, None, None
        channel_id = schedule.channel_id
    channel = session.get(Channel, channel_id)
    if channel is None:
        return GONE, None, None
    where = ChannelRef(channel.platform, channel.channel_id, channel.name)
    if channel.platform not in running:
        session.rollback()
        return NOT_RUNNING, None, where
    run = PromptRun(
        schedule_id=schedule_id, slot=slot, channel_id=channel.id, message_id="", text="",
        posted_at=now,
    )  # fmt: skip
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return TAKEN, None, where  # posted already (another replica, or before a restart)
    prompt = session.scalar(
        select(Prompt)
        .order_by(Prompt.used_at.is_not(None), Prompt.used_at, Prompt.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if prompt is None:
        session.rollback()
        return EMPTY, None, where
    prompt.used_at = now
    run.prompt_id, run.text = prompt.id, prompt.text
    if schedule_id is not None:
        session.execute(
            update(PromptSchedule).where(PromptSchedule.id == schedule_id).values(last_run_at=slot)
        )
    outbox.post_in_unit(session, subject(run.id), "prompt", where, verbatim(run.text), now,
                        languages.of_channel(where))  # fmt: skip
    session.commit()
    return QUEUED, run, where


async def _after(
    ctx: Services,
    taken: tuple[str, PromptRun | None, ChannelRef | None],
    schedule_id: int | None,
    slot: datetime | None,
) -> PromptRun | None:
    outcome, run, channel = taken
    if outcome == QUEUED:
        ctx.outbox.wake()
    elif outcome == NOT_RUNNING and channel is not None:
        log.warning("prompts for %s cannot be posted: %s is not running",
                    channel.name or channel.id, channel.platform)  # fmt: skip
    elif outcome == EMPTY and channel is not None and schedule_id is not None and slot:
        await _queue_empty(ctx, channel, schedule_id, slot)
    return run


def subject(run_id: int) -> str:
    """The outbox subject of one posting of a prompt."""
    return f"prompt:{run_id}"


@router.delivered("prompt")
def posted(session: Session, notice: outbox.Delivered) -> None:
    """The post is up: its message is the thread where responses count."""
    run_id = int(notice.key)
    session.execute(
        update(PromptRun)
        .where(PromptRun.id == run_id)
        .values(message_id=notice.message_id or "", posted_at=notice.sent_at)
    )


async def _queue_empty(
    ctx: Services, channel: ChannelRef, schedule_id: int, slot: datetime
) -> None:
    """Tell the facilitators, once per slot, that a schedule found the queue empty."""
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
    text = lines(
        _("A prompt was due in {channel} (schedule #{id}), but the queue is empty, so nothing "
          "was posted.", channel=channel.name or channel.id, id=schedule_id),
        _("Add one with `prompt add <text>`."),
        sep=" ",
    )  # fmt: skip
    about = f"schedule:{schedule_id}@{slot.astimezone(UTC):%Y%m%dT%H%M}"
    told = [
        await outbox.dm(ctx, about, "empty", member.id, text, channel.platform)
        for member in facilitators
    ]
    if any(told):
        log.warning("schedule %s is due but the prompt queue is empty", schedule_id)
