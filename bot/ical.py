"""iCalendar files (RFC 5545, with iTIP's METHOD): a calendar of VEVENTs with a VTIMEZONE for
each zone they use, and the UIDs that name Convener's entries in people's calendars.

A VTIMEZONE is written as Outlook and most readers expect it: one STANDARD and one DAYLIGHT
observance with yearly rules (`RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU`) where the zone changes
on such a rule in the years the events fall in, a single observance where it does not change;
only a zone without such a rule gets icalendar's list of dates (`RDATE`), which several readers
ignore."""

from __future__ import annotations

import calendar as days_of
import copy
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Timezone, TimezoneDaylight, TimezoneStandard

MIMETYPE = "text/calendar"
PUBLISH, REQUEST, CANCEL = "PUBLISH", "REQUEST", "CANCEL"
PRODID = "-//Convener//Convener community bot//EN"
FALLBACK_HOST = "convener.invalid"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def host(public_url: str) -> str:
    """The domain of Convener's UIDs: the host of `CONVENER_PUBLIC_URL`, so two communities'
    entries never collide, the same on every replica."""
    found = urlsplit(public_url.strip()).hostname if public_url.strip() else None
    return found or FALLBACK_HOST


def uid(kind: str, key: int | str, public_url: str) -> str:
    """`event-12@convener.example.org`: one entry, whatever file or feed carries it."""
    return f"{kind}-{key}@{host(public_url)}"


def calendar(
    components: Iterable[Component],
    zones: Iterable[tuple[str, datetime]],
    method: str = "",
    *,
    name: str = "",
    refresh: timedelta | None = None,
) -> bytes:
    """A VCALENDAR of `components` (VEVENTs), with a VTIMEZONE for each zone named in `zones`
    (zone, an instant it is used at); `method` for iTIP (PUBLISH, REQUEST, CANCEL). A feed
    has a `name` and how often to `refresh` it."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    if refresh is not None:
        cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", refresh)
    years: dict[str, set[int]] = {}
    for zone, at in zones:
        if zone != "UTC":
            years.setdefault(zone, set()).add(at.astimezone(ZoneInfo(zone)).year)
    for zone in sorted(years):
        cal.add_component(vtimezone(zone, min(years[zone]), max(years[zone])))
    for component in components:
        cal.add_component(component)
    return cal.to_ical()


def vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    """`zone`'s VTIMEZONE, right for every instant from `first_year` to `last_year`."""
    return copy.deepcopy(_vtimezone(zone, first_year, last_year))


@lru_cache(maxsize=256)
def _vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    tz = ZoneInfo(zone)
    first_year, last_year = max(first_year, 2), min(last_year, 9997)
    years = range(first_year - 1, last_year + 2)
    changes = {year: _changes(tz, year) for year in years}
    if not any(changes.values()):
        return _fixed(zone, tz, first_year)
    rules = [_rule(change) for change in changes[first_year]]
    if len(rules) == 2 and all(
        [_rule(change) for change in changes[year]] == rules for year in years
    ):
        return _yearly(zone, changes[first_year - 1], rules)
    return Timezone.from_tzinfo(
        tz, zone, date(first_year - 1, 1, 1), date(min(last_year + 2, 9999), 1, 1)
    )


def _changes(tz: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta, str]]:
    """The zone's changes of offset in `year`: (wall clock just before, offset before, offset
    after, name after)."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        after = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            low, high = day, after
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)
            before, then = (high - timedelta(minutes=1)).astimezone(tz), high.astimezone(tz)
            wall = (high + before.utcoffset()).replace(tzinfo=None)
            found.append((wall, before.utcoffset(), then.utcoffset(), then.tzname() or ""))
        day = after
    return found


def _rule(change: tuple[datetime, timedelta, timedelta, str]) -> tuple:
    """A change as a yearly rule: (month, nth weekday, weekday, time, offsets, name)."""
    wall, before, after, name = change
    last = wall.day + 7 > days_of.monthrange(wall.year, wall.month)[1]
    nth = -1 if last else (wall.day - 1) // 7 + 1
    return (wall.month, nth, wall.weekday(), wall.time(), before, after, name)


def _yearly(zone: str, changes, rules) -> Timezone:
    timezone = Timezone()
    timezone.add("tzid", zone)
    for (wall, before, after, name), (month, nth, weekday, *_rest) in zip(
        changes, rules, strict=True
    ):
        part = TimezoneDaylight() if after > before else TimezoneStandard()
        part.add("dtstart", wall)
        part.add(
            "rrule", {"freq": "yearly", "bymonth": month, "byday": f"{nth}{WEEKDAYS[weekday]}"}
        )
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        if name:
            part.add("tzname", name)
        timezone.add_component(part)
    return timezone


def _fixed(zone: str, tz: ZoneInfo, year: int) -> Timezone:
    offset = datetime(year, 1, 1, tzinfo=UTC).astimezone(tz)
    timezone = Timezone()
    timezone.add("tzid", zone)
    part = TimezoneStandard()
    part.add("dtstart", datetime(1970, 1, 1))
    part.add("tzoffsetfrom", offset.utcoffset())
    part.add("tzoffsetto", offset.utcoffset())
    if offset.tzname():
        part.add("tzname", offset.tzname())
    timezone.add_component(part)
    return timezone
