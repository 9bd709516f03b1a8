"""Events as calendar entries (`bot.ical`): the `.ics` an announcement carries (PUBLISH), a
member's confirmation or the update after a move (REQUEST), a cancellation (CANCEL), and the
VEVENTs of members' calendar feeds. Every file about one event has the same UID and the
event's `sequence`, so a calendar replaces its entry with the later version."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Event as VEvent
from icalendar import vCalAddress

from bot import ical
from bot.models import Channel, Event
from bot.settings import Settings
from bot.types import OutboundFile

DURATION = timedelta(hours=1)


def where(channel: Channel) -> str:
    """Where an event takes place: its channel."""
    return channel.name or channel.channel_id


def vevent(event: Event, channel: Channel, settings: Settings, now: datetime) -> VEvent:
    """The event as a VEVENT, one hour long, in its own zone, at its channel; cancelled once
    it is."""
    starts = event.starts_at.astimezone(ZoneInfo(event.timezone))
    entry = VEvent()
    entry.add("uid", ical.uid("event", event.id, settings.public_url))
    entry.add("sequence", event.sequence)
    entry.add("dtstamp", now)
    entry.add("dtstart", starts)
    entry.add("dtend", starts + DURATION)
    entry.add("summary", event.title)
    entry.add("location", where(channel))
    entry.add("status", "CANCELLED" if event.cancelled_at is not None else "CONFIRMED")
    organizer = vCalAddress(f"mailto:noreply@{ical.host(settings.public_url)}")
    organizer.params["cn"] = settings.community_name
    entry.add("organizer", organizer)
    return entry


def invitation(
    event: Event, channel: Channel, settings: Settings, now: datetime, method: str
) -> OutboundFile:
    """The event's `.ics` file for `method` (`bot.ical.PUBLISH`, `REQUEST` or `CANCEL`).

    Every member's file about one version of an event is the same (there are no attendees),
    so a burst of answers (a hundred 👍 on an announcement) builds it once a minute: DTSTAMP
    is the minute it was made."""
    stamp = now.replace(second=0, microsecond=0)
    key = (event.id, event.sequence, event.cancelled_at is not None, event.title,
           event.starts_at, event.timezone, where(channel), method, stamp,
           settings.public_url, settings.community_name)  # fmt: skip
    data = _built.get(key)
    if data is None:
        data = ical.calendar(
            [vevent(event, channel, settings, stamp)], [(event.timezone, event.starts_at)], method
        )
        if len(_built) >= BUILT:
            _built.pop(next(iter(_built)))
        _built[key] = data
    return OutboundFile(f"event-{event.id}.ics", data, event.title, ical.MIMETYPE)


BUILT = 64
_built: dict[tuple, bytes] = {}
