"""Learning events: `events`, `event <id>`, `rsvp <id> [yes|no|maybe]` for everyone;
`event add`, `event cancel` for facilitators; `event attendees` for facilitators and
coordinators."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Channel, Event, EventRsvp, Member
from bot.router import Router
from handlers.events import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
LISTED = 20


@router.command(
    "event add",
    usage='event add <YYYY-MM-DD> <HH:MM> [Area/City] "<title>" [: topic, ...]',
    summary="announce a learning event here",
    example='event add 2026-04-14 15:00 Africa/Nairobi "Deep dive: property tax" : budgeting',
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> str:
    if cmd.channel.is_direct:
        raise CommandError("Type this in the channel where the event should be announced.")
    new = service.parse_add(cmd.args, ctx.settings.timezone, ctx.now())
    event = await service.add(ctx, cmd.channel, ctx.sender.member_id, new)
    return (
        f"Announced event #{event.id} for {service.moment(event.starts_at, event.timezone)}. "
        f"Reminders go to everyone who signs up; `event attendees {event.id}` shows who."
    )


@router.command("events", usage="events", summary="upcoming learning events")
async def upcoming(ctx: Context, cmd: Command) -> str:
    if cmd.args.strip():
        raise UsageError("Just `events`; `event <id>` shows one.")
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


@router.command("event", usage="event <id>", summary="one learning event", example="event 3")
async def show(ctx: Context, cmd: Command) -> str:
    if len(cmd.argv) != 1:
        raise UsageError("Which event? For example: event 3")
    event_id = service.parse_id(cmd.argv[0])
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
    usage="rsvp <id> [yes|no|maybe]",
    summary="say whether you'll come to an event",
    example="rsvp 3 yes",
)
async def rsvp(ctx: Context, cmd: Command) -> str:
    if len(cmd.argv) not in (1, 2):
        raise UsageError("Which event, and will you come? For example: rsvp 3 yes")
    event_id = service.parse_id(cmd.argv[0])
    answer = cmd.argv[1].lower() if len(cmd.argv) == 2 else service.YES
    if answer not in service.ANSWERS:
        raise UsageError(f"`{cmd.argv[1][:20]}` is not an answer; say yes, no or maybe.")
    return await service.rsvp(ctx, event_id, ctx.sender.member_id, answer)


@router.command(
    "event cancel",
    usage="event cancel <id>",
    summary="cancel an event and tell who signed up",
    example="event cancel 3",
    roles=FACILITATORS,
)
async def cancel(ctx: Context, cmd: Command) -> str:
    if len(cmd.argv) != 1:
        raise UsageError("Which event? For example: event cancel 3")
    event, told = await service.cancel(ctx, service.parse_id(cmd.argv[0]))
    people = "person" if told == 1 else "people"
    return f"Cancelled event #{event.id} ({event.title}); told {told} {people} who signed up."


@router.command(
    "event attendees",
    usage="event attendees <id>",
    summary="who said they'll come to an event",
    example="event attendees 3",
    roles=[roles.FACILITATOR, roles.COORDINATOR],
)
async def attendees(ctx: Context, cmd: Command) -> str:
    if len(cmd.argv) != 1:
        raise UsageError("Which event? For example: event attendees 3")
    event_id = service.parse_id(cmd.argv[0])
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
