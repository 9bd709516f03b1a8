"""The engagement workbook: `Writer` holds what every sheet needs (the connection, the
period, the timezone, pseudonyms, the language) and writes the sheets in order, streamed
through the core writer (`bot.workbook`). The overview pages are in overview.py, the detail
sheets in sheets.py, the city-by-city Connections in connections.py, the definitions in
definitions.py.

The workbook is in the language of whoever pulls it: every word is a catalog message
(`bot.i18n`) rendered in `language` as its cell or sheet is written; dates written as text and
the date formats of cells follow the language (ISO in English). Cells keep their numbers.

Every value that comes from people (names, cities, questions, topics, prompt text, library
titles and links, event and call titles, organisations) is written as a text cell.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot.i18n import ENGLISH, Day, Message, _, n_, render
from bot.workbook import Column, Sheet, Text, cell_format, day_pattern, new_book
from handlers.reports import connections, definitions, overview, queries, sheets
from handlers.reports.definitions import SHARED_BY
from handlers.reports.period import Period

Pseudonym = Callable[[int, str], str]


class Writer:
    def __init__(
        self,
        conn: Connection,
        period: Period,
        now: datetime,
        timezone: str,
        pseudonym: Pseudonym | None = None,
        community: str = "",
        language: str = ENGLISH,
    ) -> None:
        self.conn = conn
        self.language = language
        self.day, self.moment = day_pattern(language), day_pattern(language, time=True)
        self.day_format, self.moment_format = cell_format(self.day), cell_format(self.moment)
        self.other = self.say(queries.OTHER)
        self.community = community
        self.period = period
        self.now = now
        self.zone = ZoneInfo(timezone)
        self.pseudonym = pseudonym
        self.shared = (
            {f: queries.shared_values(conn, f, SHARED_BY) for f in queries.QUASI_IDENTIFIERS}
            if pseudonym is not None
            else None
        )
        self.book = new_book()
        self.cache: dict[tuple[str, Period], object] = {}  # figures a sheet shares with another

    def say(self, message: Message) -> str:
        """A message in the workbook's language."""
        return render(message, self.language)

    def sheet(
        self,
        title: Message,
        columns: list[Column],
        heading: list[Message] = (),
        one_page: bool = False,
    ) -> Sheet:
        return Sheet(self.book, title, columns, heading, one_page, self.language)

    def span(self, period: Period) -> Message:
        """A period, its days in the workbook's language."""
        return period.said(self.day)

    def local(self, moment: datetime | None) -> datetime | None:
        """Excel has no timezones: show times in the community's timezone."""
        if moment is None:
            return None
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def shown(self, field: str, value: str | None) -> str | None:
        """A city, organisation or role as this report may show it: in a pseudonymous
        report, one fewer than `SHARED_BY` members share becomes "other"."""
        if self.shared is None or value is None or not value.strip():
            return value
        return value if queries.quasi_key(value) in self.shared[field] else self.other

    def name(self, member_id: int, name: str | None) -> Text:
        if self.pseudonym is not None:
            return Text(self.pseudonym(member_id, name or ""))
        return Text(name or "")

    def coarse(self, moment: datetime | None, month: bool = False) -> datetime | None:
        """A member's time in their row: to the minute, or in a pseudonymous report to the day
        (`month`: to the first of the month), so it cannot single them out."""
        moment = self.local(moment)
        if moment is None or self.pseudonym is None:
            return moment
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return moment.replace(day=1) if month else moment

    def heading(self, title: Message) -> list[Message]:
        """A page's title, the period against the one before, and when it was pulled."""
        previous, days = self.period.previous(), self.period.days
        pulled = {"moment": Day(self.local(self.now), self.moment), "zone": self.zone.key}
        return [
            title,
            n_("{period} ({n} day), compared with the day before ({previous})",
               "{period} ({n} days), compared with the {n} days before ({previous})",
               days, period=self.span(self.period), previous=self.span(previous)),
            _("Pulled {moment} ({zone}), pseudonymous", **pulled)
            if self.pseudonym is not None
            else _("Pulled {moment} ({zone})", **pulled),
        ]  # fmt: skip

    def write(self, target: str | IO[bytes]) -> None:
        self.weeks = overview.week_rows(self)
        self.current = overview.figures(self, self.period)
        self.before = overview.figures(self, self.period.previous())
        overview.overview(self)
        overview.summary(self)
        weekly = overview.weekly(self)
        overview.charts(self, weekly)
        sheets.members(self)
        sheets.channels(self)
        sheets.questions(self)
        sheets.prompts(self)
        sheets.knowledge(self)
        sheets.events(self)
        sheets.calls(self)
        connections.connections(self)
        definitions.definitions(self)
        self.book.save(target)
