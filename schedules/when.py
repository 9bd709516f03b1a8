"""Reading when something should happen, as people type it: a weekday (`monday`, `Mon`), a
time of day (`09:00`, `9:30`) and a timezone (`Africa/Nairobi`, any case). One place, for
prompt schedules and the digest alike."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UsageError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def weekday(text: str) -> int:
    """0 for Monday to 6 for Sunday, from the day's name in full or its first three letters."""
    word = text.strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if word in (name, name[:3]):
            return number
    raise UsageError(f"`{text[:20]}` is not a weekday; use monday to sunday, or mon to sun.")


def time_of_day(text: str) -> str:
    """`HH:MM` on the 24-hour clock."""
    found = _TIME.fullmatch(text.strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise UsageError(
            f"`{text[:20]}` is not a time; use the 24-hour clock, like 09:00 or 16:30."
        )
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def timezone(text: str) -> str:
    """The IANA name of a timezone, whatever its case."""
    from handlers.profiles import timezone_name

    return timezone_name(text)


def day(text: str) -> date:
    """A date written YYYY-MM-DD."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"`{text[:20]}` is not a date; write it like 2026-12-24.") from None


def local_moment(on: date, at: str, zone: str) -> datetime:
    """The UTC instant of a local date and `HH:MM` in `zone`."""
    hour, minute = (int(part) for part in at.split(":"))
    return datetime.combine(on, time(hour, minute), ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def last_slot(weekday_: int, at: str, zone: str, now: datetime) -> datetime:
    """The most recent weekly slot (weekday, local time in `zone`) at or before `now`, in
    `now`'s timezone. Computed on the local calendar, so 09:00 stays 09:00 across daylight
    saving changes."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    hour, minute = (int(part) for part in at.split(":"))
    day = (local - timedelta(days=(local.weekday() - weekday_) % 7)).date()
    slot = datetime.combine(day, time(hour, minute), tz)
    if slot > local:
        slot = datetime.combine(day - timedelta(days=7), time(hour, minute), tz)
    return slot.astimezone(now.tzinfo)
