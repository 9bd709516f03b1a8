"""A moment in text. The core writes `moment(at, fallback)`; an adapter that can show a time
in each reader's own terms does so (Slack's `<!date^...>`), and the others show the
fallback (`plain`). `When` and `Deadline` are moments as catalog messages, whose text is
chosen for each reader's language and own time zone when they are rendered."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import i18n
from bot.i18n import Day, Message, _

_MOMENT = re.compile(r"⟦t:(\d{1,12})\|([^⟦⟧]*)⟧")


def moment(at: datetime, fallback: str) -> str:
    """`at` for each reader where the platform can say it, else `fallback` (no brackets)."""
    return f"⟦t:{int(at.timestamp())}|{fallback.replace('⟦', '').replace('⟧', '')}⟧"


def render(text: str, show: Callable[[int, str], str]) -> str:
    """The text with each moment replaced by `show(unix seconds, fallback)`."""
    return _MOMENT.sub(lambda m: show(int(m.group(1)), m.group(2)), text)


def plain(text: str) -> str:
    return render(text, lambda _, fallback: fallback)


def own_zone(name: str | None) -> ZoneInfo | None:
    """A reader's own zone from its IANA name; None when there is none or it is unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


@dataclass(frozen=True, slots=True)
class When:
    """An instant as a catalog message (`bot.i18n`), chosen when its reader is known: in the
    reader's own time zone, named, when they have one (`i18n.render(..., zone=)`), else in
    `zone` (an event's) and UTC. On Slack, each reader sees it in their own time anyway."""

    at: datetime
    zone: str
    pattern: str = "EEE dd MMM y HH:mm"

    def render(self, language: str) -> str:
        return moment(self.at, i18n.render(self.fallback(i18n.reader_zone()), language))

    def fallback(self, reader: str | None) -> Message:
        own = own_zone(reader)
        # Translators: {when} is a day and time, {zone} a time zone's name (Africa/Nairobi),
        # {utc} a time.
        if own is not None:
            return _("{when} {zone}", when=Day(self.at.astimezone(own), self.pattern), zone=own.key)
        when = Day(self.at.astimezone(ZoneInfo(self.zone)), self.pattern)
        if self.zone == "UTC":
            return _("{when} {zone}", when=when, zone=self.zone)
        utc = Day(self.at.astimezone(UTC), "HH:mm")
        return _("{when} {zone} ({utc} UTC)", when=when, zone=self.zone, utc=utc)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline at midnight in `zone` (a call's), as a catalog message: "the end of Fri 20
    Mar 2026 (Africa/Nairobi)", or the same instant in the reader's own zone when they have
    another one ("Sat 21 Mar 2026 06:00 (Asia/Seoul)")."""

    at: datetime
    zone: str

    def render(self, language: str) -> str:
        shown = own_zone(i18n.reader_zone()) or ZoneInfo(self.zone)
        local = self.at.astimezone(shown)
        # Translators: {day} is a date, {zone} a time zone's name (Africa/Nairobi).
        if local.time() == time(0, 0):
            text = _("the end of {day} ({zone})",
                     day=Day((local - timedelta(days=1)).date()), zone=shown.key)  # fmt: skip
        else:
            text = _("{when} ({zone})", when=Day(local, "EEE dd MMM y HH:mm"), zone=shown.key)
        return i18n.render(text, language)
