"""Discussion prompts: the queue (`prompt add|list|remove`), weekly schedules in a channel
(`prompt schedule|schedules|unschedule`) and `prompt now`. Facilitators only. Commands write
rows; the scheduler picks new schedules up within a minute (`jobs.sync`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from bot import i18n, members, roles
from bot.arguments import Number, Rest, Time, Weekday, Zone
from bot.commands import Command, excerpt
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Day, Message, _, lines, n_
from bot.models import Channel, Prompt, PromptSchedule
from bot.moments import When
from bot.router import Router
from handlers.prompts import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
MAX_PROMPT = 1500
LISTED = 20
WHICH_PROMPT = _("Which prompt? For example: prompt remove 3")
WHICH_SCHEDULE = _("Which schedule? For example: prompt unschedule 2")
DAY_AND_TIME = _("Say which day and time, for example: prompt schedule monday 09:00")
EMPTY = _("The prompt queue is empty. Add one with `prompt add <text>`.")
A_MONDAY = date(2024, 1, 1)  # weekday 0, for saying a weekday's name


def _in_a_channel(cmd: Command) -> None:
    if cmd.channel.is_direct:
        raise CommandError(_("Type this in the channel where the prompts should go."))


@router.command(
    "prompt add",
    args=[Rest("text", missing=_("What should the prompt ask?"))],
    summary="add a discussion prompt to the queue",
    example="prompt add What is one revenue idea your city tried this year?",
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> Message:
    text = cmd.values.text
    if len(text) > MAX_PROMPT:
        raise CommandError(_("That prompt is too long (at most {most} characters).",
                             most=i18n.Number(MAX_PROMPT)))  # fmt: skip
    async with ctx.db() as session:
        prompt = Prompt(text=text, created_by=ctx.sender.member_id, created_at=ctx.now())
        session.add(prompt)
        await session.flush()
        waiting = await session.scalar(
            select(func.count()).select_from(Prompt).where(Prompt.used_at.is_(None))
        )
        await session.commit()
    return n_(
        "Added prompt #{id}; {n} waiting to be posted (never posted ones go first).",
        "Added prompt #{id}; {n} waiting to be posted (never posted ones go first).",
        waiting, id=prompt.id,
    )  # fmt: skip


@router.command(
    "prompt list",
    extra=_("Just `prompt list`."),
    summary="the prompt queue, next first",
    roles=FACILITATORS,
)
async def list_prompts(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        rows = (
            await session.scalars(
                select(Prompt).order_by(Prompt.used_at.is_not(None), Prompt.used_at, Prompt.id)
            )
        ).all()
    if not rows:
        return EMPTY
    more = len(rows) - LISTED
    return lines(
        _("Prompts, in the order they will be posted:"),
        *(_queued(prompt) for prompt in rows[:LISTED]),
        n_("… and {n} more.", "… and {n} more.", more) if more > 0 else None,
    )


def _queued(prompt: Prompt) -> Message:
    if prompt.used_at is None:
        return _("• #{id} · never posted — {text}", id=prompt.id, text=excerpt(prompt.text))
    return _("• #{id} · last posted {day} — {text}", id=prompt.id,
             day=prompt.used_at.date().isoformat(), text=excerpt(prompt.text))  # fmt: skip


@router.command(
    "prompt remove",
    args=[Number("id", "prompt", missing=WHICH_PROMPT)],
    extra=WHICH_PROMPT,
    summary="take a prompt out of the queue",
    example="prompt remove 3",
    roles=FACILITATORS,
)
async def remove(ctx: Context, cmd: Command) -> Message:
    prompt_id = cmd.values.id
    async with ctx.db() as session:
        prompt = await session.get(Prompt, prompt_id)
        if prompt is None:
            raise CommandError(
                _("There is no prompt #{id}. Type `prompt list` to see them.", id=prompt_id)
            )
        await session.delete(prompt)
        await session.commit()
    return _("Removed prompt #{id} ({text}).", id=prompt_id, text=excerpt(prompt.text, 50))


@router.command(
    "prompt schedule",
    args=[Weekday(missing=DAY_AND_TIME), Time(missing=DAY_AND_TIME), Zone(optional=True)],
    extra=DAY_AND_TIME,
    summary="post the next prompt here every week",
    example="prompt schedule monday 09:00 Africa/Nairobi",
    roles=FACILITATORS,
)
async def schedule(ctx: Context, cmd: Command) -> Message:
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
    return _(
        "Scheduled #{id}: the next prompt is posted here every {every}. The first: {first}.",
        id=row.id, every=_every(row), first=_local(next_slot(row, now), zone),
    )  # fmt: skip


def next_slot(row: PromptSchedule, now: datetime) -> datetime:
    """The first slot strictly after `now`."""
    return service.last_slot(row, now + timedelta(days=7))


def _every(row: PromptSchedule) -> Message:
    weekday = Day(A_MONDAY + timedelta(days=row.weekday), "EEEE")
    return _("{weekday} at {time} ({zone})", weekday=weekday, time=row.time_of_day,
             zone=row.timezone)  # fmt: skip


def _local(moment: datetime, zone: str) -> Message:
    """A slot in the reader's own zone when they have one, else the schedule's and UTC."""
    return When(moment, zone)


@router.command(
    "prompt schedules",
    extra=_("Just `prompt schedules`."),
    summary="the weekly prompt schedules",
    roles=FACILITATORS,
)
async def list_schedules(ctx: Context, cmd: Command) -> Message:
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
        return _("No prompts are scheduled. In a channel: `prompt schedule monday 09:00`.")
    now = ctx.now()
    return lines(
        _("Weekly prompts:"),
        *(
            _("• #{id} · {channel} ({platform}) · every {every} · next {next}", id=row.id,
              channel=channel.name or channel.channel_id, platform=channel.platform,
              every=_every(row), next=_local(next_slot(row, now), row.timezone))
            for row, channel in rows
        ),
    )  # fmt: skip


@router.command(
    "prompt unschedule",
    args=[Number("id", "schedule", missing=WHICH_SCHEDULE)],
    extra=WHICH_SCHEDULE,
    summary="stop a weekly prompt schedule",
    example="prompt unschedule 2",
    roles=FACILITATORS,
)
async def unschedule(ctx: Context, cmd: Command) -> Message:
    schedule_id = cmd.values.id
    async with ctx.db() as session:
        row = await session.get(PromptSchedule, schedule_id)
        if row is None or not row.active:
            raise CommandError(
                _("There is no schedule #{id}. Type `prompt schedules` to see them.",
                  id=schedule_id)
            )  # fmt: skip
        row.active = False
        await session.commit()
    return _("Stopped schedule #{id} ({every}).", id=schedule_id, every=_every(row))


@router.command(
    "prompt now",
    extra=_("Just `prompt now`, in the channel where it should go."),
    summary="post the next prompt here now",
    roles=FACILITATORS,
)
async def now(ctx: Context, cmd: Command) -> Message | None:
    _in_a_channel(cmd)
    async with ctx.db() as session:
        channel = await members.resolve_channel(session, cmd.channel)
        await session.commit()
    run = await service.post_next(ctx, channel)
    if run is None:
        raise CommandError(EMPTY)
    return _("Posting prompt #{id} here.", id=run.prompt_id)
