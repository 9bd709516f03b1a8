"""The events feature's section of a member's home: upcoming events, each with the member's
own answer and the RSVP buttons of its announcement."""

from __future__ import annotations

from sqlalchemy import and_, select

from bot.context import Services
from bot.home import Viewer
from bot.i18n import Message, _, lines
from bot.models import Event, EventRsvp
from bot.router import Router
from bot.types import Item, Section
from handlers.events import service

router = Router()

SHOWN = 5
ANSWERED = {
    service.YES: _("Your answer: you're coming."),
    service.MAYBE: _("Your answer: maybe."),
    service.NO: _("Your answer: you can't come."),
}


@router.home("events", order=30)
async def upcoming(ctx: Services, viewer: Viewer) -> Section:
    mine = and_(EventRsvp.event_id == Event.id, EventRsvp.member_id == viewer.member_id)
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(Event, EventRsvp.answer)
                .outerjoin(EventRsvp, mine)
                .where(Event.cancelled_at.is_(None), Event.starts_at > ctx.now())
                .order_by(Event.starts_at, Event.id)
                .limit(SHOWN + 1)
            )
        ).all()
    items = [
        Item(_shown(event, answer), tuple(service.actions(event.id)))
        for event, answer in rows[:SHOWN]
    ]
    if len(rows) > SHOWN:
        items.append(Item(_("… and more: `events` lists them all.")))
    return Section(_("Upcoming events"), tuple(items), empty=_("No events are coming up."))


def _shown(event: Event, answer: str | None) -> Message:
    return lines(
        _("**#{id} {title}**", id=event.id, title=event.title),
        service.moment(event.starts_at, event.timezone),
        ANSWERED.get(answer or "", _("You haven't answered yet.")),
    )
