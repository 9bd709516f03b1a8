"""Learning events: `events`, `event <id>`, `rsvp <id> [yes|no|maybe]` for everyone;
`event add`, `event move`, `event cancel` for facilitators; `event attendees` for facilitators and
coordinators."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles
from bot.arguments import Choice, Day, Number, Rest, Time, Zone
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _, lines, n_
from bot.models import Channel, Event, EventRsvp, Member
from bot.router import Router
from handlers.events import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
LISTED = 20
WHICH_EVENT = _("Which event? For example: event 3")
WILL_YOU_COME = _("Which event, and will you come? For example: rsvp 3 yes")
WHICH_TO_CANCEL = _("Which event? For example: event cancel 3")
WHERE_TO_MOVE = _("Which event, and when? For example: event move 3 2026-04-15 15:00")
WHICH_ATTENDEES = _("Which event? For example: event attendees 3")


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
async def add(ctx: Context, cmd: Command) -> Message:
    if cmd.channel.is_direct:
        raise CommandError(_("Type this in the channel where the event should be announced."))
    values = cmd.values
    if "title" in values:  # the form's fields (`handlers.events.forms`)
        zone = values.zone or ctx.settings.timezone
        new = service.new_event(values.date, values.time, zone, values.title,
                                values.topics or [], ctx.now())  # fmt: skip
    else:
        new = service.parse_add(values.date, values.time, values.what, ctx.settings.timezone,
                                ctx.now())  # fmt: skip
    event = await service.add(ctx, cmd.channel, ctx.sender.member_id, new)
    return _(
        "Announced event #{id} for {when}. "
        "Reminders go to everyone who signs up; `event attendees {id}` shows who.",
        id=event.id, when=service.moment(event.starts_at, event.timezone),
    )  # fmt: skip


@router.command(
    "events",
    extra=_("Just `events`; `event <id>` shows one."),
    summary="upcoming learning events",
)
async def upcoming(ctx: Context, cmd: Command) -> Message:
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
        counts = await service.counts(session, [event.id for event, _channel in rows])
    if not rows:
        return _("No events are coming up.")
    return lines(
        _("Upcoming events:"),
        *(
            _coming(event, channel, counts[event.id][service.YES])
            for event, channel in rows[:LISTED]
        ),
        _("… and more later.") if len(rows) > LISTED else None,
        _("Sign up with `rsvp <id>`."),
    )


def _coming(event: Event, channel: Channel, yes: int) -> Message:
    return n_(
        "• #{id} · {when} · {title} · {where} · {n} coming",
        "• #{id} · {when} · {title} · {where} · {n} coming",
        yes, id=event.id, when=service.moment(event.starts_at, event.timezone),
        title=event.title, where=service.where(channel),
    )  # fmt: skip


@router.command(
    "event",
    args=[Number("id", "event", missing=WHICH_EVENT)],
    extra=WHICH_EVENT,
    summary="one learning event",
    example="event 3",
)
async def show(ctx: Context, cmd: Command) -> Message:
    event_id = cmd.values.id
    async with ctx.db() as session:
        event = await service.get(session, event_id)
        channel = await session.get(Channel, event.channel_id)
        counts = (await service.counts(session, [event.id]))[event.id]
        names = await service.topic_names(session, event.id)
        mine = await session.get(EventRsvp, (event.id, ctx.sender.member_id))
    if event.cancelled_at is not None:
        status = _("This event was cancelled.")
    elif event.starts_at <= ctx.now():
        status = _("This event has started or taken place.")
    elif mine is not None:
        status = _your_answer(mine.answer, event.id)
    else:
        status = _("Sign up with `rsvp {id}`.", id=event.id)
    when = service.moment(event.starts_at, event.timezone)
    return lines(
        _("**Event #{id}: {title}**", id=event.id, title=event.title),
        _("When: {when}", when=when),
        _("Where: {where}", where=service.where(channel)),
        _("Topics: {topics}", topics=", ".join(names)) if names else None,
        _("Answers: {yes} yes · {maybe} maybe · {no} no",
          yes=counts[service.YES], maybe=counts[service.MAYBE], no=counts[service.NO]),
        status,
    )  # fmt: skip


def _your_answer(answer: str, event_id: int) -> Message:
    if answer == service.YES:
        return _("Your answer: yes (change it with `rsvp {id} yes|no|maybe`).", id=event_id)
    if answer == service.MAYBE:
        return _("Your answer: maybe (change it with `rsvp {id} yes|no|maybe`).", id=event_id)
    return _("Your answer: no (change it with `rsvp {id} yes|no|maybe`).", id=event_id)


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
async def rsvp(ctx: Context, cmd: Command) -> Message:
    values = cmd.values
    return await service.rsvp(ctx, values.id, ctx.sender.member_id, values.answer)


@router.command(
    "event move",
    args=[
        Number("id", "event", missing=WHERE_TO_MOVE),
        Day(missing=WHERE_TO_MOVE),
        Time(missing=WHERE_TO_MOVE),
        Zone(optional=True),
    ],
    extra=WHERE_TO_MOVE,
    summary="move an event to another time (in its own zone unless one is given)",
    example="event move 3 2026-04-15 15:00 Africa/Nairobi",
    roles=FACILITATORS,
)
async def move(ctx: Context, cmd: Command) -> Message:
    values = cmd.values
    event, told = await service.move(ctx, values.id, values.date, values.time, values.zone)
    return n_(
        "Moved event #{id} ({title}) to {when}; sent the update to {n} person who answered "
        "yes or maybe.",
        "Moved event #{id} ({title}) to {when}; sent the update to {n} people who answered "
        "yes or maybe.",
        told, id=event.id, title=event.title,
        when=service.moment(event.starts_at, event.timezone),
    )  # fmt: skip


@router.command(
    "event cancel",
    args=[Number("id", "event", missing=WHICH_TO_CANCEL)],
    extra=WHICH_TO_CANCEL,
    summary="cancel an event and tell who signed up",
    example="event cancel 3",
    roles=FACILITATORS,
)
async def cancel(ctx: Context, cmd: Command) -> Message:
    event, told = await service.cancel(ctx, cmd.values.id)
    return n_(
        "Cancelled event #{id} ({title}); told {n} person who signed up.",
        "Cancelled event #{id} ({title}); told {n} people who signed up.",
        told, id=event.id, title=event.title,
    )  # fmt: skip


@router.command(
    "event attendees",
    args=[Number("id", "event", missing=WHICH_ATTENDEES)],
    extra=WHICH_ATTENDEES,
    summary="who said they'll come to an event",
    example="event attendees 3",
    roles=[roles.FACILITATOR, roles.COORDINATOR],
)
async def attendees(ctx: Context, cmd: Command) -> Message:
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
    said = {
        "id": event.id,
        "title": event.title,
        "when": service.moment(event.starts_at, event.timezone),
        "maybe": counts[service.MAYBE],
    }
    cancelled = event.cancelled_at is not None
    if not people:
        if cancelled:
            return _("Event #{id}, {title} ({when}), cancelled: "
                     "nobody has said yes yet ({maybe} maybe).", **said)  # fmt: skip
        return _("Event #{id}, {title} ({when}): nobody has said yes yet ({maybe} maybe).",
                 **said)  # fmt: skip
    if cancelled:
        head = n_("Event #{id}, {title} ({when}), cancelled: {n} coming, {maybe} maybe.",
                  "Event #{id}, {title} ({when}), cancelled: {n} coming, {maybe} maybe.",
                  len(people), **said)  # fmt: skip
    else:
        head = n_("Event #{id}, {title} ({when}): {n} coming, {maybe} maybe.",
                  "Event #{id}, {title} ({when}): {n} coming, {maybe} maybe.",
                  len(people), **said)  # fmt: skip
    return lines(head, *(_attendee(member) for member in people))


def _attendee(member: Member) -> Message:
    name = member.display_name or _("member {id}", id=member.id)
    details = " · ".join(v for v in (member.city, member.org) if v)
    if not details:
        return _("• {name} · no city or organisation", name=name)
    return _("• {name} · {details}", name=name, details=details)
