"""The events job, run by the scheduler every minute: reminders a day and an hour before
an event to everyone who said yes (unless they signed up after the reminder's time), the
start post in the event's channel and a direct message to each yes at the start (up to
`CONVENER_PROMPT_GRACE_HOURS` late, after downtime), and a retry of any cancellation notice
that failed. At the start (or the cancellation) the answers offered with the announcement
close (a Matrix poll ends). Each is done once across restarts and replicas (`bot.notices`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from bot.context import Services
from bot.i18n import Message, _
from bot.models import Channel, Event, EventRsvp
from bot.router import Router
from handlers.events import service

router = Router()

REMINDERS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))
CANCEL_RETRY = timedelta(hours=1)


@router.every("events", minutes=1)
async def remind(ctx: Services) -> int:
    """How many notices this run sent."""
    now = ctx.now()
    grace = timedelta(hours=ctx.settings.prompt_grace_hours)
    async with ctx.db() as session:
        events = list(
            await session.scalars(
                select(Event)
                .where(
                    or_(
                        (Event.cancelled_at.is_(None))
                        & (Event.starts_at <= now + REMINDERS[0][1])
                        & (Event.starts_at >= now - grace),
                        (Event.cancelled_at >= now - CANCEL_RETRY) & (Event.starts_at > now),
                    )
                )
                .order_by(Event.starts_at, Event.id)
            )
        )
    sent = 0
    for event in events:
        if event.cancelled_at is not None:
            sent += await service.tell_cancelled(ctx, event)
        else:
            sent += await _due(ctx, event, now)
    return sent


async def _due(ctx: Services, event: Event, now) -> int:
    async with ctx.db() as session:
        channel = await session.get(Channel, event.channel_id)
        yes = list(
            (
                await session.execute(
                    select(EventRsvp.member_id, EventRsvp.answered_at)
                    .where(EventRsvp.event_id == event.id, EventRsvp.answer == service.YES)
                    .order_by(EventRsvp.member_id)
                )
            ).all()
        )
    said = {
        "id": event.id,
        "title": event.title,
        "when": service.moment(event.starts_at, event.timezone),
        "where": service.where(channel),
    }
    sent = 0
    if event.starts_at <= now:  # it starts: answers close, one post, a message to each yes
        await service.close_choices(ctx, event, channel)
        start = _("🟢 Event #{id}, **{title}**, starts now.", id=event.id, title=event.title)
        if await service.post_once(ctx, event, channel, "start", start):
            sent += 1
        text = _("🟢 Starting now: event #{id}, **{title}** ({when}), in {where}.", **said)
        for member_id, _answered_at in yes:
            sent += await service.dm_once(ctx, event, channel, "start", member_id, text)
        return sent
    # the latest reminder that is due; an earlier one missed is not sent late
    for kind, before in reversed(REMINDERS):
        due = event.starts_at - before
        if due > now:
            continue
        text = _reminder(kind, said)
        if event.sequence:  # a moved event's reminders are due again, at its new time
            kind = f"{kind}.{event.sequence}"
        for member_id, answered_at in yes:
            if answered_at > due:  # signed up after this reminder's time
                continue
            sent += await service.dm_once(ctx, event, channel, kind, member_id, text)
        break
    return sent


def _reminder(kind: str, said: dict[str, object]) -> Message:
    if kind == "24h":
        return _("⏰ Reminder: event #{id}, **{title}** is in 24 hours, {when}, in {where}.",
                 **said)  # fmt: skip
    return _("⏰ Reminder: event #{id}, **{title}** is in an hour, {when}, in {where}.", **said)
