"""`GET /calendar/<token>.ics`: a member's feed, for their calendar to subscribe to. It lists
the events they said yes or maybe to (not cancelled; those past for up to `KEPT` too) and the
deadlines of the calls they are interested in (not withdrawn), as all-day entries. An
address that is malformed, unknown or reset is the same plain 404, after at most one indexed
query."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Event as VEvent
from sqlalchemy import select

from bot import i18n, ical
from bot.context import Services
from bot.i18n import _
from bot.models import Call, CallInterest, Channel, Event, EventRsvp
from bot.pages import NOT_FOUND, Answer
from bot.router import Router
from handlers.calendar import service
from handlers.calls import last_day
from handlers.events import ANSWERED, vevent

router = Router()

KEPT = timedelta(days=90)
REFRESH = timedelta(hours=1)


@router.page(service.PATH)
async def feed(ctx: Services, name: str) -> Answer:
    token = service.token_of(name)
    if token is None:
        return NOT_FOUND
    now = ctx.now()
    async with ctx.db() as session:
        member_id = await service.member_of(session, token)
        if member_id is None:
            return NOT_FOUND
        language = await ctx.languages.of_member_id(session, member_id)
        events = (
            await session.execute(
                select(Event, Channel)
                .join(EventRsvp, EventRsvp.event_id == Event.id)
                .join(Channel, Channel.id == Event.channel_id)
                .where(
                    EventRsvp.member_id == member_id,
                    EventRsvp.answer.in_(ANSWERED),
                    Event.cancelled_at.is_(None),
                    Event.starts_at >= now - KEPT,
                )
                .order_by(Event.starts_at, Event.id)
            )
        ).all()
        calls = list(
            await session.scalars(
                select(Call)
                .join(CallInterest, CallInterest.call_id == Call.id)
                .where(
                    CallInterest.member_id == member_id,
                    CallInterest.withdrawn_at.is_(None),
                    Call.deadline >= now - KEPT,
                )
                .order_by(Call.deadline, Call.id)
            )
        )
    entries = [vevent(event, channel, ctx.settings, now) for event, channel in events]
    entries += [_deadline(ctx, call, language, now) for call in calls]
    body = ical.calendar(
        entries,
        [(event.timezone, event.starts_at) for event, _channel in events],
        ical.PUBLISH,
        name=ctx.settings.community_name,
        refresh=REFRESH,
    )
    return Answer(200, body, ical.MIMETYPE, headers={"Cache-Control": "private, max-age=300"})


def _deadline(ctx: Services, call: Call, language: str, now) -> VEvent:
    day = last_day(call, ctx.settings.timezone)
    entry = VEvent()
    entry.add("uid", ical.uid("call", call.id, ctx.settings.public_url))
    entry.add("dtstamp", now)
    entry.add("dtstart", day)
    entry.add("dtend", day + timedelta(days=1))
    entry.add("summary", i18n.render(_("Deadline: {title}", title=call.title), language))
    entry.add("transp", "TRANSPARENT")
    entry.add("description", i18n.render(
        _("Call #{id} closes at the end of this day ({zone}); `interest {id} <note>` "
          "expresses interest.", id=call.id, zone=ctx.settings.timezone),
        language,
    ))  # fmt: skip
    return entry
