"""Learning events: `events`, `event <id>`, `rsvp <id> [yes|no|maybe]` for everyone;
`event add`, `event cancel` for facilitators; `event attendees` for facilitators and
coordinators."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles
from bot.arguments import Choice, Day, Number, Rest, Time
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.models import Channel, Event, EventRsvp, Member
from bot.router import Router
from handlers.events import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
LISTED = 20
WHICH_EVENT = "Which event? For example: event 3"
WILL_YOU_COME = "Which event, and will you come? For example: rsvp 3 yes"
WHICH_TO_CANCEL = "Which event? For example: event cancel 3"
WHICH_ATTENDEES = "Which event? For example: event attendees 3"


@router.command(
    "event add",
    args=[
        Day(missing=service.SAY_WHEN),
        Time(missing=service.SAY_WHEN),
        Rest("what", label='[Area/City] "<title>" [: topic, ...]', missing=service.SAY_WHEN),
    ],
    summary="announce a learning event here",
    example='event add 2026-04-14 15:00 Africa/Nairobi "Deep dive: property tax" : budgeting',
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> str:
    if cmd.channel.is_direct:
        raise CommandError("Type this in the channel where the event should be announced.")
    values = cmd.values
    new = service.parse_add(values.date, values.time, values.what, ctx.settings.timezone, ctx.now())
    event = await service.add(ctx, cmd.channel, ctx.sender.member_id, new)
    return (
        f"Announced event #{event.id} for {service.moment(event.starts_at, event.timezone)}. "
        f"Reminders go to everyone who signs up; `event attendees {event.id}` shows who."
    )


@router.command(
    "events", extra="Just `events`; `event <id>` shows one.", summary="upcoming learning events"
)
async def upcoming(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        rows = list(
            (
                await session.execute(
                    select(Event, Channel)
                    .join(Channel, Channel.id == Event.channel_id)
                    .where(Event.cancelled_at.is_(None), Event.starts_at > ctx.now())
                    .order_by(Event.starts_at, Event.id)
                    .limit(LISTED + 1)
                )
            ).all()
        )
        counts = await service.counts(session, [event.id for event, _ in rows])
    if not rows:
        return "No events are coming up."
    lines = ["Upcoming events:"]
    for event, channel in rows[:LISTED]:
        yes = counts[event.id][service.YES]
        lines.append(
            f"• #{event.id} · {service.moment(event.starts_at, event.timezone)} · "
            f"{event.title} · {service.where(channel)} · {yes} coming"
        )
    if len(rows) > LISTED:
        lines.append("… and more later.")
    lines.append("Sign up with `rsvp <id>`.")
    return "\n".join(lines)


@router.command(
    "event",
    args=[Number("id", "event", missing=WHICH_EVENT)],
    extra=WHICH_EVENT,
    summary="one learning event",
    example="event 3",
)
async def show(ctx: Context, cmd: Command) -> str:
    event_id = cmd.values.id
    async with ctx.db() as session:
        event = await service.get(session, event_id)
        channel = await session.get(Channel, event.channel_id)
        counts = (await service.counts(session, [event.id]))[event.id]
        names = await service.topic_names(session, event.id)
        mine = await session.get(EventRsvp, (event.id, ctx.sender.member_id))
        member = await session.get(Member, ctx.sender.member_id) if ctx.sender.member_id else None
    lines = [
        f"**Event #{event.id}: {event.title}**",
        f"When: {service.moment(event.starts_at, event.timezone, member and member.timezone)}",
        f"Where: {service.where(channel)}",
    ]
    if names:
        lines.append("Topics: " + ", ".join(names))
    lines.append(f"Answers: {counts['yes']} yes · {counts['maybe']} maybe · {counts['no']} no")
    if event.cancelled_at is not None:
        lines.append("This event was cancelled.")
    elif event.starts_at <= ctx.now():
        lines.append("This event has started or taken place.")
    elif mine is not None:
        lines.append(f"Your answer: {mine.answer} (change it with `rsvp {event.id} yes|no|maybe`).")
    else:
        lines.append(f"Sign up with `rsvp {event.id}`.")
    return "\n".join(lines)


@router.command(
    "rsvp",
    args=[
        Number("id", "event", missing=WILL_YOU_COME),
        Choice("answer", service.ANSWERS, default=service.YES),
    ],
    extra=WILL_YOU_COME,
    summary="say whether you'll come to an event",
    example="rsvp 3 yes",
)
async def rsvp(ctx: Context, cmd: Command) -> str:
    values = cmd.values
    return await service.rsvp(ctx, values.id, ctx.sender.member_id, values.answer)


@router.command(
    "event cancel",
    args=[Number("id", "event", missing=WHICH_TO_CANCEL)],
    extra=WHICH_TO_CANCEL,
    summary="cancel an event and tell who signed up",
    example="event cancel 3",
    roles=FACILITATORS,
)
async def cancel(ctx: Context, cmd: Command) -> str:
    event, told = await service.cancel(ctx, cmd.values.id)
    people = "person" if told == 1 else "people"
    return f"Cancelled event #{event.id} ({event.title}); told {told} {people} who signed up."


@router.command(
    "event attendees",
    args=[Number("id", "event", missing=WHICH_ATTENDEES)],
    extra=WHICH_ATTENDEES,
    summary="who said they'll come to an event",
    example="event attendees 3",
    roles=[roles.FACILITATOR, roles.COORDINATOR],
)
async def attendees(ctx: Context, cmd: Command) -> str:
    event_id = cmd.values.id
    async with ctx.db() as session:
        event = await service.get(session, event_id)
        counts = (await service.counts(session, [event.id]))[event.id]
        people = list(
            await session.scalars(
                select(Member)
                .join(EventRsvp, EventRsvp.member_id == Member.id)
                .where(EventRsvp.event_id == event.id, EventRsvp.answer == service.YES)
                .order_by(Member.display_name, Member.id)
            )
        )
    head = f"Event #{event.id}, {event.title} ({service.moment(event.starts_at, event.timezone)})"
    if event.cancelled_at is not None:
        head += ", cancelled"
    if not people:
        return f"{head}: nobody has said yes yet ({counts['maybe']} maybe)."
    lines = [f"{head}: {len(people)} coming, {counts['maybe']} maybe."]
    for member in people:
        details = " · ".join(v for v in (member.city, member.org) if v) or "no city or organisation"
        lines.append(f"• {member.display_name or f'member {member.id}'} · {details}")
    return "\n".join(lines)
