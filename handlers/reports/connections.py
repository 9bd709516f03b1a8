"""The Connections sheet: who learns from whom, city by city. A table of the period's
exchanges (rows: the city of the member who helped; columns: the city of the member
helped), the number of distinct city pairs connected and the share of credited answers
that crossed a city line; the last two are also figures of the Overview and Summary.

Cities are compared as `queries.quasi_key` does (case and spacing aside) and written as most
of their exchanges spell them; in a pseudonymous report the cities `Writer.shown` hides
become one "other" row and column before pairs are counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import _
from bot.workbook import BOLD, Text
from handlers.reports import queries
from handlers.reports.period import Period
from handlers.reports.queries.connections import CityPairs

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer


@dataclass
class Table:
    """Exchanges by (helper's city, helped's city), cities as shown, in the sheet's order."""

    cities: list[str]
    cells: dict[tuple[str, str], int]

    @property
    def pairs(self) -> int:
        """Unordered pairs of different cities with at least one exchange."""
        return len({frozenset(key) for key in self.cells if key[0] != key[1]})


@dataclass
class Crossing:
    """Credited answers between members who both gave a city, and those across cities."""

    answers: int
    crossed: int

    @property
    def share(self) -> float | None:
        return self.crossed / self.answers if self.answers else None


def merge(rows: CityPairs, shown: Callable[[str], str], other: str = "") -> Table:
    """`rows` (helper's city, helped's city, count) as a table of the cities `shown` gives,
    those with one key merged, spaces tidied; a city not given (blank) is left out; `other`
    sorts last."""
    cells: Counter[tuple[str, str]] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for helper, helped, n in rows:
        names = [" ".join((shown(city) or "").split()) for city in (helper, helped)]
        if not all(names):
            continue
        keys = tuple(queries.quasi_key(name) for name in names)
        for key, name in zip(keys, names, strict=True):
            spellings.setdefault(key, Counter())[name] += n
        cells[keys] += n
    label = {
        key: sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
        for key, counts in spellings.items()
    }
    cities = sorted(label.values(), key=lambda city: (city == other, city.casefold(), city))
    return Table(cities, {(label[a], label[b]): n for (a, b), n in cells.items()})


def table(report: Writer, period: Period) -> Table:
    """The period's exchanges as this report shows cities (one query, kept for the sheet)."""
    key = ("connections", period)
    if key not in report.cache:
        rows = queries.exchanges(report.conn, period)
        report.cache[key] = merge(rows, lambda city: report.shown("city", city), report.other)
    return report.cache[key]


def crossing(report: Writer, period: Period) -> Crossing:
    """The period's credited answers across cities, by the cities members gave (in a
    pseudonymous report too: a share names no one)."""
    key = ("crossing", period)
    if key not in report.cache:
        answers = crossed = 0
        for answerer, asker, n in queries.answer_cities(report.conn, period):
            if answerer.strip() and asker.strip():
                answers += n
                crossed += n if queries.quasi_key(answerer) != queries.quasi_key(asker) else 0
        report.cache[key] = Crossing(answers, crossed)
    return report.cache[key]


def connections(report: Writer) -> None:
    cities = table(report, report.period)
    sheet = report.sheet(
        _("Connections"),
        [(_("Who helped ↓ / who was helped →"), 26, None),
         *[(Text(city), 12, "0") for city in cities.cities], (_("Total"), 10, "0")],
        heading=[
            _("Who learns from whom: exchanges between cities"),
            _("{period}. Rows: the city of the member who helped; columns: the city of the "
              "member helped. Members without a city are left out.",
              period=report.span(report.period)),
        ],
    )  # fmt: skip
    columns: Counter[int] = Counter()
    for helper in cities.cities:
        row = [cities.cells.get((helper, helped), 0) for helped in cities.cities]
        columns.update(dict(enumerate(row)))
        sheet.append([Text(helper), *row, sum(row)])
    if cities.cities:
        total = report.say(_("Total"))
        totals = [columns[i] for i in range(len(cities.cities))]
        sheet.append([total, *totals, sum(totals)])
    else:
        sheet.note(_("No exchanges between members with a city in this period."))
    crossing_now = crossing(report, report.period)
    sheet.ws.append([])
    sheet.formats = [None, "0", None]
    figures = [
        [report.say(_("City pairs connected")), cities.pairs],
        [report.say(_("Answers that crossed a city line")), crossing_now.share,
         report.say(_("{crossed} of {answers} credited answers between members with a city",
                      crossed=crossing_now.crossed, answers=crossing_now.answers))],
    ]  # fmt: skip
    for number, values in enumerate(figures):
        sheet.formats = [None, "0%" if number else "0", None]
        label = sheet.cell(values[0])
        label.font = BOLD
        sheet.append([label, *values[1:]])
