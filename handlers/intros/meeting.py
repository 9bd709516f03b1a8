"""Meeting times for an introduction: up to three one-hour slots in the coming working days
that fall inside every member's working hours (09:00-17:00 local, Monday to Friday), each
member's hours read in their own time zone with zoneinfo, so a daylight saving change in
between moves them as it moves the members. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_STARTS, DAY_ENDS = time(9, 0), time(17, 0)
LENGTH = timedelta(hours=1)
STEP = timedelta(minutes=30)  # half-hour zones (Asia/Kolkata) meet on the half hour
NOTICE = timedelta(days=1)  # the first time offered is at least this far ahead
WINDOW = timedelta(days=10)  # about seven working days after the notice
SLOTS = 3
SPREAD = timedelta(days=2)  # times offered on days this far apart, where there are enough


def working(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the hour from `moment` is inside working hours in `zone`."""
    start, end = moment.astimezone(zone), (moment + LENGTH).astimezone(zone)
    return (
        start.weekday() < 5
        and start.date() == end.date()
        and start.time() >= DAY_STARTS
        and end.time() <= DAY_ENDS
    )


def overlaps(zones: Sequence[str], after: datetime) -> list[datetime]:
    """Every slot start (UTC, on the half hour) between `after + NOTICE` and the end of the
    window that is working time in every zone."""
    tzs = [ZoneInfo(zone) for zone in dict.fromkeys(zones)]
    start = (after + NOTICE).astimezone(UTC).replace(second=0, microsecond=0)
    start += timedelta(minutes=(-start.minute) % 30)
    found, moment, end = [], start, start + WINDOW
    while moment < end:
        if all(working(moment, tz) for tz in tzs):
            found.append(moment)
        moment += STEP
    return found


def times(zones: Sequence[str], after: datetime) -> list[datetime]:
    """Up to `SLOTS` meeting times (UTC) for members in `zones`: the first time of a day,
    on days at least `SPREAD` apart where there are enough; none when the hours never
    overlap."""
    firsts: dict[object, datetime] = {}
    for moment in overlaps(zones, after):
        firsts.setdefault(moment.date(), moment)
    days = list(firsts.values())
    chosen: list[datetime] = []
    for moment in days:
        if not chosen or moment - chosen[-1] >= SPREAD:
            chosen.append(moment)
    for moment in days:
        if len(chosen) >= SLOTS:
            break
        if moment not in chosen:
            chosen.append(moment)
    return sorted(chosen[:SLOTS])
