"""Time zones and moments, as people type them and as jobs compute them: a zone's IANA name
(any case, with a "did you mean"), a weekday, a time of day, a date, the UTC instant of a
local date and time, and a weekly slot's latest occurrence. One place for profiles, prompt
schedules, events and the digest alike."""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from bot.errors import UsageError
from bot.i18n import _, lines

EXAMPLE = _("Use a name like Africa/Nairobi, Europe/Berlin or America/Sao_Paulo.")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


AREAS = frozenset(
    "Africa America Antarctica Arctic Asia Atlantic Australia Europe Indian Pacific".split()
)


@lru_cache(maxsize=1)
def known() -> tuple[str, ...]:
    """The zones a person chooses from (UTC, then each area's cities), sorted."""
    cities = sorted(zone for zone in _zones().values() if zone.split("/", 1)[0] in AREAS)
    return ("UTC", *cities)


def name(text: str) -> str:
    """The IANA name a person means (any case), or UsageError with an example."""
    value = text.strip()
    if not value:
        raise UsageError(lines(_("Which timezone?"), EXAMPLE, sep=" "))
    zones = _zones()
    if value.lower() in zones:
        return zones[value.lower()]
    if not zones:  # no listing on this system: ask zoneinfo itself
        try:
            ZoneInfo(value)
            return value
        except (ValueError, OSError, KeyError):
            pass
    city = value.lower().replace(" ", "_")
    hint = [z for low, z in zones.items() if low.endswith("/" + city)]
    hint = hint or [zones[z] for z in difflib.get_close_matches(value.lower(), zones, n=1)]
    raise UsageError(lines(
        _("`{zone}` is not a timezone I know.", zone=value[:40]),
        _("Did you mean {zone}?", zone=hint[0]) if hint else None,
        EXAMPLE, sep=" ",
    ))  # fmt: skip


def weekday(text: str) -> int:
    """0 for Monday to 6 for Sunday, from the day's name in full or its first three letters."""
    word = text.strip().lower()
    for number, day_name in enumerate(WEEKDAYS):
        if word in (day_name, day_name[:3]):
            return number
    raise UsageError(
        _("`{word}` is not a weekday; use monday to sunday, or mon to sun.", word=text[:20])
    )


def time_of_day(text: str) -> str:
    """`HH:MM` on the 24-hour clock."""
    found = _TIME.fullmatch(text.strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise UsageError(
            _("`{word}` is not a time; use the 24-hour clock, like 09:00 or 16:30.", word=text[:20])
        )
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def is_day(text: str) -> bool:
    return bool(_DATE.fullmatch(text.strip()))


def day(text: str) -> date:
    """A date written YYYY-MM-DD."""
    try:
        if not is_day(text):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            _("`{word}` is not a date; write it like 2026-12-24.", word=text[:20])
        ) from None


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
    on = (local - timedelta(days=(local.weekday() - weekday_) % 7)).date()
    slot = datetime.combine(on, time(hour, minute), tz)
    if slot > local:
        slot = datetime.combine(on - timedelta(days=7), time(hour, minute), tz)
    return slot.astimezone(now.tzinfo)
