"""Report windows: [start, end) in UTC, from dates read in the community's timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UsageError
from bot.i18n import Day, Message, _

ISO = "yyyy-MM-dd"  # a day as typed in `report` (CLDR)
MAX_DAYS = 3 * 366
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
"""The dates a report may cover: within them, the period before it and the weeks around it
are dates too (at 0001-01-01 or 9999-12-31 they would not be)."""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return Period(
            self.start - length,
            self.start,
            self.first_day - timedelta(days=self.days),
            self.first_day - timedelta(days=1),
        )

    def label(self) -> str:
        """The period in the audit log and the command line's output."""
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    def said(self, pattern: str = ISO) -> Message:
        """The period in a reader's language, its days as `pattern` (a CLDR pattern; ISO
        days, as they are typed, by default)."""
        return _("{first} to {last}", first=Day(self.first_day, pattern),
                 last=Day(self.last_day, pattern))  # fmt: skip


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("I did not understand `{word}`: write dates as YYYY-MM-DD.", word=text[:20])
        ) from None


def from_days(first: date, last: date, timezone: str) -> Period:
    if last < first:
        raise UsageError(_("The start date is after the end date."))
    if (last - first).days + 1 > MAX_DAYS:
        raise UsageError(_("That is more than three years; choose a shorter period."))
    if first < EARLIEST or last > LATEST:
        raise UsageError(
            _("Choose dates from {first} to {last}.", first=EARLIEST.isoformat(),
              last=LATEST.isoformat())
        )  # fmt: skip
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    return Period(start, end, first, last)


def parse_period(words: list[str], today: date, timezone: str, default_days: int = 30) -> Period:
    """`[] | [from] | [from, to]`; the default is the last `default_days` days up to today."""
    if len(words) > 2:
        raise UsageError(
            _("I did not understand `{word}`: give at most two dates, from and to.",
              word=words[2][:20])
        )  # fmt: skip
    if not words:
        return from_days(today - timedelta(days=default_days - 1), today, timezone)
    first = _day(words[0])
    last = _day(words[1]) if len(words) == 2 else today
    return from_days(first, last, timezone)
