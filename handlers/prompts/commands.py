"""Discussion prompts: the queue (`prompt add|list|remove`), weekly schedules in a channel
(`prompt schedule|schedules|unschedule`) and `prompt now`. Facilitators only. Commands write
rows; the scheduler picks new schedules up within a minute (`jobs.sync`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import members, roles, timezones
from bot.arguments import Number, Rest, Time, Weekday, Zone
from bot.commands import Command, excerpt
from bot.context import Context
from bot.errors import CommandError
from bot.models import Channel, Prompt, PromptSchedule
from bot.router import Router
from handlers.prompts import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
MAX_PROMPT = 1500
LISTED = 20
WHICH_PROMPT = "Which prompt? For example: prompt remove 3"
WHICH_SCHEDULE = "Which schedule? For example: prompt unschedule 2"
DAY_AND_TIME = "Say which day and time, for example: prompt schedule monday 09:00"


def _in_a_channel(cmd: Command) -> None:
    if cmd.channel.is_direct:
        raise CommandError("Type this in the channel where the prompts should go.")


@router.command(
    "prompt add",
    args=[Rest("text", missing="What should the prompt ask?")],
    summary="add a discussion prompt to the queue",
    example="prompt add What is one revenue idea your city tried this year?",
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> str:
    text = cmd.values.text
    if len(text) > MAX_PROMPT:
        raise CommandError(f"That prompt is too long (at most {MAX_PROMPT:,} characters).")
    async with ctx.db() as session:
        prompt = Prompt(text=text, created_by=ctx.sender.member_id, created_at=ctx.now())
        session.add(prompt)
        await session.flush()
        waiting = await session.scalar(
            select(func.count()).select_from(Prompt).where(Prompt.used_at.is_(None))
        )
        await session.commit()
    return (
        f"Added prompt #{prompt.id}; {waiting} waiting to be posted (never posted ones go first)."
    )


@router.command(
    "prompt list",
    extra="Just `prompt list`.",
    summary="the prompt queue, next first",
    roles=FACILITATORS,
)
async def list_prompts(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        rows = (
            await session.scalars(
                select(Prompt).order_by(Prompt.used_at.is_not(None), Prompt.used_at, Prompt.id)
            )
        ).all()
    if not rows:
        return "The prompt queue is empty. Add one with `prompt add <text>`."
    lines = ["Prompts, in the order they will be posted:"]
    for prompt in rows[:LISTED]:
        posted = f"last posted {prompt.used_at:%Y-%m-%d}" if prompt.used_at else "never posted"
        lines.append(f"• #{prompt.id} · {posted} — {excerpt(prompt.text)}")
    if len(rows) > LISTED:
        lines.append(f"… and {len(rows) - LISTED} more.")
    return "\n".join(lines)


@router.command(
    "prompt remove",
    args=[Number("id", "prompt", missing=WHICH_PROMPT)],
    extra=WHICH_PROMPT,
    summary="take a prompt out of the queue",
    example="prompt remove 3",
    roles=FACILITATORS,
)
async def remove(ctx: Context, cmd: Command) -> str:
    prompt_id = cmd.values.id
    async with ctx.db() as session:
        prompt = await session.get(Prompt, prompt_id)
        if prompt is None:
            raise CommandError(f"There is no prompt #{prompt_id}. Type `prompt list` to see them.")
        await session.delete(prompt)
        await session.commit()
    return f"Removed prompt #{prompt_id} ({excerpt(prompt.text, 50)})."


@router.command(
    "prompt schedule",
    args=[Weekday(missing=DAY_AND_TIME), Time(missing=DAY_AND_TIME), Zone(optional=True)],
    extra=DAY_AND_TIME,
    summary="post the next prompt here every week",
    example="prompt schedule monday 09:00 Africa/Nairobi",
    roles=FACILITATORS,
)
async def schedule(ctx: Context, cmd: Command) -> str:
    _in_a_channel(cmd)
    weekday, at = cmd.values.weekday, cmd.values.time
    zone = cmd.values.zone or ctx.settings.timezone
    now = ctx.now()
    async with ctx.db() as session:
        channel = await members.resolve_channel(session, cmd.channel)
        row = PromptSchedule(
            channel_id=channel.id,
            weekday=weekday,
            time_of_day=at,
            timezone=zone,
            created_by=ctx.sender.member_id,
            created_at=now,
            active=True,
        )
        session.add(row)
        await session.commit()
    return (
        f"Scheduled #{row.id}: the next prompt is posted here every {_every(row)}. "
        f"The first: {_local(next_slot(row, now), zone)}."
    )


def next_slot(row: PromptSchedule, now: datetime) -> datetime:
    """The first slot strictly after `now`."""
    return service.last_slot(row, now + timedelta(days=7))


def _every(row: PromptSchedule) -> str:
    return f"{timezones.WEEKDAYS[row.weekday].capitalize()} at {row.time_of_day} ({row.timezone})"


def _local(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %Y %H:%M} {zone} ({moment.astimezone(ZoneInfo('UTC')):%H:%M} UTC)"


@router.command(
    "prompt schedules",
    extra="Just `prompt schedules`.",
    summary="the weekly prompt schedules",
    roles=FACILITATORS,
)
async def list_schedules(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(PromptSchedule, Channel)
                .join(Channel, Channel.id == PromptSchedule.channel_id)
                .where(PromptSchedule.active.is_(True))
                .order_by(PromptSchedule.id)
            )
        ).all()
    if not rows:
        return "No prompts are scheduled. In a channel: `prompt schedule monday 09:00`."
    now = ctx.now()
    lines = ["Weekly prompts:"]
    for row, channel in rows:
        lines.append(
            f"• #{row.id} · {channel.name or channel.channel_id} ({channel.platform}) · every "
            f"{_every(row)} · next {_local(next_slot(row, now), row.timezone)}"
        )
    return "\n".join(lines)


@router.command(
    "prompt unschedule",
    args=[Number("id", "schedule", missing=WHICH_SCHEDULE)],
    extra=WHICH_SCHEDULE,
    summary="stop a weekly prompt schedule",
    example="prompt unschedule 2",
    roles=FACILITATORS,
)
async def unschedule(ctx: Context, cmd: Command) -> str:
    schedule_id = cmd.values.id
    async with ctx.db() as session:
        row = await session.get(PromptSchedule, schedule_id)
        if row is None or not row.active:
            raise CommandError(
                f"There is no schedule #{schedule_id}. Type `prompt schedules` to see them."
            )
        row.active = False
        await session.commit()
    return f"Stopped schedule #{schedule_id} ({_every(row)})."


@router.command(
    "prompt now",
    extra="Just `prompt now`, in the channel where it should go.",
    summary="post the next prompt here now",
    roles=FACILITATORS,
)
async def now(ctx: Context, cmd: Command) -> str | None:
    _in_a_channel(cmd)
    async with ctx.db() as session:
        channel = await members.resolve_channel(session, cmd.channel)
        await session.commit()
    run = await service.post_next(ctx, channel)
    if run is None:
        raise CommandError("The prompt queue is empty. Add one with `prompt add <text>`.")
    return f"Posting prompt #{run.prompt_id} here."
