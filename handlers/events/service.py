"""Learning events: announcing, answers (RSVPs), moving, cancelling, and the notices around
them. The commands, the reaction listener and the reminders job call these.

Every notice (a reminder, the start post, a cancellation) is queued in the outbox
(`bot.outbox`) with subject `event:<id>`, so it is sent exactly once across restarts and
replicas, in turn with everything else the bot sends. Calendar files go the same way
(`handlers.events.invitations`): the announcement's, each yes or maybe's, and after a move or
a cancellation an update with a higher SEQUENCE to everyone who said yes or maybe.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import home, ical, members, moments, notices, outbox, timezones, topics
from bot.context import Context, Services
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines
from bot.models import Channel, Event, EventRsvp, EventTopic
from bot.types import Action, ChannelRef
from bot.watch import Watch, post_key
from handlers.events.invitations import invitation
from handlers.events.invitations import where as where  # the commands and jobs use it here

log = logging.getLogger(__name__)

MAX_TITLE = 200
CHOICES = "choices"  # the kind of the once-only step that closes the announcement's poll
YES, NO, MAYBE = "yes", "no", "maybe"
ANSWERS = (YES, NO, MAYBE)
ANSWERED = (YES, MAYBE)  # who gets the event's calendar invitations and updates
UTC = ZoneInfo("UTC")

SAY_WHEN = _(
    "Say when and what, with the title in double quotes, for example: "
    'event add 2026-04-14 15:00 Africa/Nairobi "Deep dive: property tax"'
)
# what follows the date and time: `[Area/City] "<title>" [: topic, ...]`, straight or curly quotes
_WHAT = re.compile(
    r'(?:(?P<zone>[^\s"“”]+)\s+)?["“”](?P<title>.*)["“”]\s*(?::(?P<topics>.*))?', re.S
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    starts_at: datetime
    timezone: str
    title: str
    topic_names: list[str]


def parse_add(on: date, at: str, text: str, default_zone: str, now: datetime) -> NewEvent:
    """An event from its day and time and what follows them (`[Area/City] "<title>"
    [: topic, ...]`)."""
    found = _WHAT.fullmatch(text.strip())
    if found is None:
        raise UsageError(SAY_WHEN)
    zone = timezones.name(found["zone"]) if found["zone"] else default_zone
    new = new_event(on, at, zone, found["title"], [], now)
    names = topics.split_names(found["topics"]) if found["topics"] is not None else []
    return NewEvent(new.starts_at, zone, new.title, names)


def new_event(
    on: date, at: str, zone: str, title: str, names: list[str], now: datetime
) -> NewEvent:
    """An event from its parts (the form's fields): a title that fits, a moment ahead."""
    title = " ".join(title.split())
    if not title:
        raise UsageError(_("The event needs a title, in double quotes."))
    if len(title) > MAX_TITLE:
        raise CommandError(
            _("That title is too long (at most {limit} characters).", limit=MAX_TITLE)
        )
    return NewEvent(starts(on, at, zone, now), zone, title, names)


def starts(on: date, at: str, zone: str, now: datetime) -> datetime:
    """The UTC instant of a day and time in `zone`, which must be ahead of `now`."""
    try:
        starts_at = timezones.local_moment(on, at, zone)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise UsageError(
            _("{day} is out of range; choose a date in the coming years.", day=on.isoformat())
        ) from None
    if starts_at <= now:
        raise CommandError(
            _(
                "{day} {time} ({zone}) is in the past; events are announced ahead.",
                day=on.strftime("%Y-%m-%d"),
                time=at,
                zone=zone,
            )
        )
    return starts_at


def moment(starts_at: datetime, zone: str) -> Message:
    """`Tue 14 Apr 2026 15:00 Africa/Nairobi (12:00 UTC)`, or the time in the reader's own
    zone when they have one (`bot.moments.When`)."""
    return moments.When(starts_at, zone)


def actions(event_id: int) -> list[Action]:
    """The answers, as buttons or one poll (answering it again changes the answer)."""
    return [
        Action(_("I'll come"), f"rsvp {event_id} yes", poll=True),
        Action(_("Maybe"), f"rsvp {event_id} maybe", poll=True),
        Action(_("Can't come"), f"rsvp {event_id} no", poll=True),
    ]


def subject(event_id: int) -> str:
    return f"event:{event_id}"


def channel_ref(channel: Channel) -> ChannelRef:
    return ChannelRef(channel.platform, channel.channel_id, channel.name, channel.is_direct)


# announcing ---------------------------------------------------------------------------------


async def add(ctx: Context, channel_ref_: ChannelRef, created_by: int | None, new: NewEvent):
    """Store the event, announce it in `channel_ref_` with buttons, and keep the message id.
    If the announcement fails, the event is removed again."""
    now = ctx.now()
    async with ctx.db() as session:
        topic_rows = await topics.known_all(session, new.topic_names)
        channel = await members.resolve_channel(session, channel_ref_)
        event = Event(
            title=new.title,
            starts_at=new.starts_at,
            timezone=new.timezone,
            channel_id=channel.id,
            message_id="",
            created_by=created_by,
            created_at=now,
        )
        session.add(event)
        await session.flush()
        session.add_all(EventTopic(event_id=event.id, topic_id=t.id) for t in topic_rows)
        await home.changed_for_everyone(session)
        await session.commit()
    text = announcement(event, [t.name for t in topic_rows])
    try:
        posted = await ctx.platform.send(channel_ref_, text, actions=actions(event.id))
    except BaseException:
        await asyncio.shield(_forget(ctx, event.id))
        raise
    async with ctx.db() as session:
        await session.execute(
            update(Event).where(Event.id == event.id).values(message_id=posted.message_id)
        )
        await session.commit()
    ctx.watch(ANNOUNCEMENTS, channel_ref_.platform, post_key(channel_ref_.id, posted.message_id))
    event.message_id = posted.message_id
    file = invitation(event, channel, ctx.settings, now, ical.PUBLISH)
    text = _("📅 Event #{id} for your calendar: open this file to add it.", id=event.id)
    await outbox.post(ctx, subject(event.id), "invite", channel_ref_, text, attachment=file)
    return event


def _announcements(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(Channel.platform, Channel.channel_id, Event.message_id)
        .join(Channel, Channel.id == Event.channel_id)
        .where(Event.message_id != "")
    )
    if since is not None:
        query = query.where(Event.created_at >= since)
    return [
        (platform, post_key(channel, message))
        for platform, channel, message in session.execute(query)
    ]


ANNOUNCEMENTS = Watch("event announcements", _announcements)
"""Event announcements: a ✅ or 👍 on one is an RSVP."""


def announcement(event: Event, topic_names: list[str]) -> Message:
    return lines(
        _("📅 **Event #{id}: {title}**", id=event.id, title=event.title),
        _("When: {when}", when=moment(event.starts_at, event.timezone)),
        _("Topics: {topics}", topics=", ".join(topic_names)) if topic_names else None,
        _(
            "To sign up: `rsvp {id}` (or `rsvp {id} maybe`, `rsvp {id} no`), "
            "or react ✅ to this message.", id=event.id,
        ),
    )  # fmt: skip


async def _forget(ctx: Context, event_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(EventTopic).where(EventTopic.event_id == event_id))
        await session.execute(delete(Event).where(Event.id == event_id))
        await session.commit()


# finding -------------------------------------------------------------------------------------


async def get(session: AsyncSession, event_id: int) -> Event:
    event = await session.get(Event, event_id)
    if event is None:
        raise CommandError(_("There is no event #{id}. Type `events` to see them.", id=event_id))
    return event


async def announced_at(session: AsyncSession, channel: ChannelRef, message_id: str) -> Event | None:
    """The event whose announcement is `message_id` in `channel`."""
    if not message_id:
        return None
    return await session.scalar(
        select(Event)
        .join(Channel, Channel.id == Event.channel_id)
        .where(
            Channel.platform == channel.platform,
            Channel.channel_id == channel.id,
            Event.message_id == message_id,
        )
    )


async def counts(session: AsyncSession, event_ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {i: dict.fromkeys(ANSWERS, 0) for i in event_ids}
    if not event_ids:
        return found
    rows = await session.execute(
        select(EventRsvp.event_id, EventRsvp.answer, func.count())
        .where(EventRsvp.event_id.in_(event_ids))
        .group_by(EventRsvp.event_id, EventRsvp.answer)
    )
    for event_id, answer, n in rows:
        found[event_id][answer] = n
    return found


async def topic_names(session: AsyncSession, event_id: int) -> list[str]:
    return (await topics.names_by(session, EventTopic.event_id, EventTopic.topic_id, [event_id]))[
        event_id
    ]


# answering -----------------------------------------------------------------------------------


async def rsvp(ctx: Context, event_id: int, member_id: int, answer: str) -> Message:
    """Record (or change) a member's answer; the confirmation for them."""
    now = ctx.now()
    async with ctx.db() as session:
        event = await get(session, event_id)
        if event.cancelled_at is not None:
            raise CommandError(
                _("Event #{id} ({title}) was cancelled.", id=event.id, title=event.title)
            )
        if event.starts_at <= now:
            raise CommandError(
                _("Event #{id} ({title}) has already started.", id=event.id, title=event.title)
            )
        previous = await session.scalar(
            select(EventRsvp.answer).where(
                EventRsvp.event_id == event.id, EventRsvp.member_id == member_id
            )
        )
        # the same answer again keeps its time, so a reminder already due stays due
        await session.execute(
            upsert(session, EventRsvp)
            .values(event_id=event.id, member_id=member_id, answer=answer, answered_at=now)
            .on_conflict_do_nothing()
        )
        await session.execute(
            update(EventRsvp)
            .where(
                EventRsvp.event_id == event.id,
                EventRsvp.member_id == member_id,
                EventRsvp.answer != answer,
            )
            .values(answer=answer, answered_at=now)
        )
        if previous != answer:
            await home.changed(session, [member_id])
        channel = None
        if answer in ANSWERED and previous not in ANSWERED:
            channel = await session.get(Channel, event.channel_id)
        await session.commit()
    if channel is not None:
        await _invite(ctx, event, channel, now)
    at = moment(event.starts_at, event.timezone)
    said = {"id": event.id, "title": event.title, "when": at}
    if answer == YES:
        left = event.starts_at - now
        if left > timedelta(hours=24):
            return _("✅ You're coming to event #{id}, **{title}**, on {when}. "
                     "I'll remind you a day and an hour before.", **said)  # fmt: skip
        if left > timedelta(hours=1):
            return _("✅ You're coming to event #{id}, **{title}**, on {when}. "
                     "I'll remind you an hour before.", **said)  # fmt: skip
        return _("✅ You're coming to event #{id}, **{title}**, on {when}. "
                 "I'll tell you when it starts.", **said)  # fmt: skip
    if answer == MAYBE:
        return _("Noted: maybe for event #{id}, **{title}**, on {when}. "
                 "Say `rsvp {id}` once you know you're coming.", **said)  # fmt: skip
    return _("Noted: you can't come to event #{id}, **{title}**, on {when}.", **said)


async def _invite(ctx: Context, event: Event, channel: Channel, now: datetime) -> None:
    """The calendar invitation (REQUEST) that comes with a yes or maybe, as part of the
    answer to the member (so, like the answer, at once and once: the answer's claim)."""
    text = _("📅 Event #{id}, **{title}**, for your calendar: open this file to add it.",
             id=event.id, title=event.title)  # fmt: skip
    file = invitation(event, channel, ctx.settings, now, ical.REQUEST)
    await ctx.platform.send_file(ctx.sender.user, file, text)


# moving --------------------------------------------------------------------------------------


async def move(
    ctx: Context, event_id: int, on: date, at: str, zone: str | None
) -> tuple[Event, int]:
    """Move an event that has not started (in its own zone unless `zone` is given), post it in
    its channel once, and send everyone who said yes or maybe the update (REQUEST, a higher
    SEQUENCE), all in one transaction. (event, people told)."""
    now = ctx.now()
    async with ctx.db() as session:
        event = await get(session, event_id)
        if event.cancelled_at is not None:
            raise CommandError(_("Event #{id} was cancelled; it can't be moved.", id=event.id))
        if event.starts_at <= now:
            raise CommandError(
                _("Event #{id} has already started; it can't be moved.", id=event.id)
            )
        zone = zone or event.timezone
        starts_at = starts(on, at, zone, now)
        if starts_at == event.starts_at and zone == event.timezone:
            raise CommandError(_("Event #{id} is already at that time.", id=event.id))
        was = moment(event.starts_at, event.timezone)
        sequence = await session.scalar(
            update(Event)
            .where(
                Event.id == event.id,
                Event.sequence == event.sequence,
                Event.cancelled_at.is_(None),
            )
            .values(starts_at=starts_at, timezone=zone, sequence=Event.sequence + 1)
            .returning(Event.sequence)
        )
        if sequence is None:
            raise CommandError(
                _("Event #{id} changed meanwhile; see it with `event {id}`.", id=event.id)
            )
        event.starts_at, event.timezone, event.sequence = starts_at, zone, sequence
        channel = await session.get(Channel, event.channel_id)
        said = {"id": event.id, "title": event.title, "was": was,
                "when": moment(event.starts_at, event.timezone)}  # fmt: skip
        kind = f"move{sequence}"
        file = invitation(event, channel, ctx.settings, now, ical.PUBLISH)
        await outbox.post(
            ctx, subject(event.id), kind, channel_ref(channel),
            _("🕑 Event #{id}, **{title}**, has moved to {when} (it was {was}).", **said),
            session=session, attachment=file,
        )  # fmt: skip
        text = _("🕑 Event #{id}, **{title}**, which you answered, has moved to {when} "
                 "(it was {was}). This file updates your calendar.", **said)  # fmt: skip
        file = invitation(event, channel, ctx.settings, now, ical.REQUEST)
        told = 0
        for member_id in await _answered(session, event.id):
            told += await outbox.dm(ctx, subject(event.id), kind, member_id, text,
                                    channel.platform, session=session, attachment=file)  # fmt: skip
        await home.changed_for_everyone(session)
        await session.commit()
    return event, told


async def _answered(session: AsyncSession, event_id: int) -> list[int]:
    """Who said yes or maybe."""
    return list(
        await session.scalars(
            select(EventRsvp.member_id)
            .where(EventRsvp.event_id == event_id, EventRsvp.answer.in_(ANSWERED))
            .order_by(EventRsvp.member_id)
        )
    )


# cancelling ----------------------------------------------------------------------------------


async def cancel(ctx: Context, event_id: int) -> tuple[Event, int]:
    """Mark the event cancelled, post it in its channel, and tell everyone who said yes or
    maybe (each once). (event, people told)."""
    now = ctx.now()
    async with ctx.db() as session:
        event = await get(session, event_id)
        if event.cancelled_at is not None:
            raise CommandError(_("Event #{id} is already cancelled.", id=event.id))
        if event.starts_at <= now:
            raise CommandError(
                _("Event #{id} has already started; it can't be cancelled.", id=event.id)
            )
        sequence = await session.scalar(
            update(Event)
            .where(Event.id == event.id, Event.cancelled_at.is_(None))
            .values(cancelled_at=now, sequence=Event.sequence + 1)
            .returning(Event.sequence)
        )
        if sequence is None:
            raise CommandError(_("Event #{id} is already cancelled.", id=event.id))
        await home.changed_for_everyone(session)
        await session.commit()
    event.cancelled_at, event.sequence = now, sequence
    return event, await tell_cancelled(ctx, event)


async def tell_cancelled(ctx: Context, event: Event) -> int:
    """The cancellation post in the event's channel and a direct message to everyone who
    said yes or maybe, each once and each with the cancellation for their calendar (CANCEL)
    (the reminders job calls this again, so a notice that failed is retried); how many
    people this call told."""
    async with ctx.db() as session:
        channel = await session.get(Channel, event.channel_id)
        people = await _answered(session, event.id)
    at = moment(event.starts_at, event.timezone)
    file = invitation(event, channel, ctx.settings, ctx.now(), ical.CANCEL)
    await outbox.post(
        ctx, subject(event.id), "cancel", channel_ref(channel),
        _("❌ Event #{id}, **{title}** ({when}), is cancelled.",
          id=event.id, title=event.title, when=at),
        attachment=file,
    )  # fmt: skip
    text = _("❌ Event #{id}, **{title}**, planned for {when}, is cancelled. Sorry!",
             id=event.id, title=event.title, when=at)  # fmt: skip
    await close_choices(ctx, event, channel)
    told = 0
    for member_id in people:
        if await outbox.dm(ctx, subject(event.id), "cancel", member_id, text,
                           channel.platform, attachment=file):  # fmt: skip
            told += 1
    return told


# sending once --------------------------------------------------------------------------------


async def close_choices(ctx: Services, event: Event, channel: Channel) -> None:
    """Close the answers offered with the announcement (a Matrix poll ends), once across
    restarts and replicas, when the event starts or is cancelled. A failure is logged, and
    the events job's next run tries again."""
    platform = ctx.platforms.get(channel.platform)
    if not event.message_id or platform is None:
        return
    close = partial(platform.close_choices, channel_ref(channel), event.message_id)
    try:
        await notices.once(ctx, subject(event.id), CHOICES, outbox.CHANNEL, close)
    except Exception as exc:
        log.warning("event #%s: could not close its answers (%s: %s); trying again later",
                    event.id, type(exc).__name__, str(exc)[:200])  # fmt: skip


async def post_once(
    ctx: Services, event: Event, channel: Channel, kind: str, text: Message
) -> bool:
    """A post in the event's channel, queued once (`bot.outbox`); False if queued before."""
    return await outbox.post(ctx, subject(event.id), kind, channel_ref(channel), text)


async def dm_once(
    ctx: Services, event: Event, channel: Channel, kind: str, member_id: int, text: Message
) -> bool:
    """A direct message to a member, queued once (on the event's platform where the member
    has an account there); False if queued before."""
    return await outbox.dm(ctx, subject(event.id), kind, member_id, text, channel.platform)
