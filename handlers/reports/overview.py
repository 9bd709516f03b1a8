"""The engagement workbook's first pages: the one-page Overview for a board, the Summary of
every figure against the previous period, the Weekly figures and their Charts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.worksheet.pagebreak import Break

from bot.i18n import Message, _
from bot.workbook import Sheet, print_setup, sheet_title
from handlers.reports import connections, queries
from handlers.reports.period import Period

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

# Translators: a figure of the workbook not known yet (no new member has had 28 days).
NOT_YET = _("not yet")
# Translators: the unit of a change of a share in the workbook: percentage points.
POINTS = _("pp")
CHART_ROWS = 32  # a landscape page at the default row height

Week = tuple[date, int, dict[str, int]]

# Every figure of the Summary, in its order, by the key `figures` gives it.
FIGURES = {
    "members": _("Members"),
    "active": _("Posting-active members"),
    "new": _("New members"),
    "retained_1": _("Retained in week 1 (new members)"),
    "retained_4": _("Retained in week 4 (new members)"),
    "messages": _("Messages"),
    "replies": _("Replies"),
    "reactions": _("Reactions"),
    "asked": _("Questions asked"),
    "answered": _("Questions answered"),
    "solved": _("Questions solved"),
    "median_hours": _("Median hours to first response"),
    "p90_hours": _("90th percentile hours to first response"),
    "unanswered_24h": _("Share unanswered after 24 hours"),
    "unanswered_72h": _("Share unanswered after 72 hours"),
    "prompts": _("Prompts posted"),
    "prompt_responses": _("Prompt responses"),
    "responders": _("Unique prompt responders"),
    "events": _("Events held"),
    "signups": _("Event sign-ups"),
    "calls": _("Calls"),
    "interests": _("Expressions of interest"),
    "cities": _("City pairs connected"),
    "crossed": _("Share of answers across cities"),
}
SHARES = {"unanswered_24h", "unanswered_72h", "crossed"}
HOURS = {"median_hours", "p90_hours"}

# The Overview's figures, named for a board.
OVERVIEW = [
    ("members", _("Members")),
    ("active", _("Active members")),
    ("new", _("New members")),
    ("asked", _("Questions asked")),
    ("answered", _("Questions answered")),
    ("median_hours", _("Median hours to a first answer")),
    ("prompt_responses", _("Responses to discussion prompts")),
    ("events", _("Learning events held")),
    ("signups", _("Event sign-ups")),
    ("calls", _("Calls for expressions of interest")),
    ("interests", _("Expressions of interest")),
    ("cities", _("Cities connected (pairs of cities)")),
]

# Translators: the vertical axis of the workbook's charts (a number of members).
MEMBERS_AXIS = _("members")

WEEKLY = [
    ("active", FIGURES["active"]), ("new", FIGURES["new"]),
    ("messages", FIGURES["messages"]), ("replies", FIGURES["replies"]),
    ("reactions", FIGURES["reactions"]), ("asked", FIGURES["asked"]),
    ("answered", FIGURES["answered"]), ("prompt_responses", FIGURES["prompt_responses"]),
]  # fmt: skip


# Summary --------------------------------------------------------------------------------


def figures(report: Writer, period: Period) -> dict[str, float | str | None]:
    """Every summary figure for `period`, by its key in `FIGURES`."""
    conn, counts = report.conn, queries.activity_figures(report.conn, period)
    times = queries.response_times(conn, period, report.now)
    prompts = queries.prompt_figures(conn, period)
    events = queries.event_figures(conn, period)
    calls = queries.call_figures(conn, period)
    asked = times.asked

    def share(part: int) -> float | None:
        return part / asked if asked else None

    return {
        "members": queries.member_total(conn, period),
        "active": counts["active"],
        "new": queries.new_member_count(conn, period),
        "retained_1": retained(report, period, 1, 7),
        "retained_4": retained(report, period, 22, 28),
        "messages": counts["message"],
        "replies": counts["reply"],
        "reactions": counts["reaction"],
        "asked": asked,
        "answered": times.answered,
        "solved": times.solved,
        "median_hours": times.median,
        "p90_hours": times.p90,
        "unanswered_24h": share(times.unanswered_24h),
        "unanswered_72h": share(times.unanswered_72h),
        "prompts": prompts["runs"],
        "prompt_responses": prompts["responses"],
        "responders": prompts["responders"],
        "events": events["held"],
        "signups": events["yes"],
        "calls": calls["calls"],
        "interests": calls["interests"],
        "cities": connections.table(report, period).pairs,
        "crossed": connections.crossing(report, period).share,
    }


def retained(report: Writer, period: Period, first: int, last: int) -> int | str:
    """Retention among the new members who have had all `last` days by the period's end;
    "not yet" (in the workbook's language) when none has."""
    ready, kept = queries.retention(report.conn, period, first, last)
    return kept if ready else report.say(NOT_YET)


def points(unit: str) -> str:
    """The number format of a change of a share, in percentage points (`unit`)."""
    unit = unit.replace('"', "")
    return f'+0" {unit}";-0" {unit}";0" {unit}"'


def formats(report: Writer, figure: str) -> tuple[str, str, float]:
    """A figure's number format, its change's format, and what the change is scaled by. The
    formats' separators are the spreadsheet's (it shows them in its reader's locale)."""
    if figure in SHARES:
        return "0%", points(report.say(POINTS)), 100
    fmt = "0.0" if figure in HOURS else "0"
    return fmt, f"+{fmt};-{fmt};0", 1


def comparison(report: Writer, figure: str, name: Message) -> tuple[list, list]:
    """A figure's row (`name`, this period, previous, change) and the rows' number formats."""
    value, old = report.current[figure], report.before[figure]
    fmt, change_fmt, scale = formats(report, figure)
    numbers = all(isinstance(v, int | float) for v in (value, old))
    change = (value - old) * scale if numbers else None
    return [report.say(name), value, old, change], [None, fmt, fmt, change_fmt]


def summary(report: Writer) -> None:
    title = (
        _("Engagement summary: {community}", community=report.community)
        if report.community
        else _("Engagement summary")
    )
    sheet = report.sheet(
        _("Summary"),
        [(_("Figure"), 44, None), (_("This period"), 14, None),
         (_("Previous period"), 14, None), (_("Change"), 12, None)],
        heading=report.heading(title),
        one_page=True,
    )  # fmt: skip
    for figure in report.current:
        values, sheet.formats = comparison(report, figure, FIGURES[figure])
        sheet.append(values)
    sheet.note(_("Shares change in percentage points (pp). Definitions: see the last sheet."))
    sheet.finish()


def overview(report: Writer) -> None:
    """One printed page for a board: the figures a funder asks for, and one chart."""
    title = (
        _("Community engagement: {community}", community=report.community)
        if report.community
        else _("Community engagement")
    )
    sheet = report.sheet(
        _("Overview"),
        [(None, 34, None), (_("This period"), 13, None), (_("Previous"), 13, None),
         (_("Change"), 11, None), (None, 3, None), (_("Week"), 12, report.day_format),
         (_("Active members"), 12, "0")],
        heading=report.heading(title),
        one_page=True,
    )  # fmt: skip
    rows = [(figure, label) for figure, label in OVERVIEW if figure in report.current]
    full = full_weeks(report)
    height = max(len(rows), len(full))
    for i in range(height):
        values, fmts = ([None] * 4, [None] * 4)
        if i < len(rows):
            figure, label = rows[i]
            values, fmts = comparison(report, figure, label)
        week = [None, full[i][0], full[i][2]["active"]] if i < len(full) else []
        sheet.formats = [*fmts, None, report.day_format, "0"]
        sheet.append([*values, *week])
    sheet.finish()
    sheet.ws.auto_filter.ref = None
    if full:
        first = sheet.header_row + 1
        chart = line_chart(
            report.say(_("Active members each week (full weeks)")), report.say(MEMBERS_AXIS)
        )
        chart.add_data(
            Reference(sheet.ws, min_col=7, min_row=sheet.header_row, max_row=first + len(full) - 1),
            titles_from_data=True,
        )
        chart.set_categories(
            Reference(sheet.ws, min_col=6, min_row=first, max_row=first + len(full) - 1)
        )
        chart.series[0].smooth = False
        chart.legend = None
        chart.height, chart.width = 8, 22
        sheet.ws.add_chart(chart, f"A{sheet.header_row + height + 2}")


# Weekly ---------------------------------------------------------------------------------


def week_rows(report: Writer) -> list[Week]:
    """Each ISO week the period touches: its Monday, its days in the period, its figures."""
    data = queries.weekly(report.conn, report.period)
    return [
        (date.fromisoformat(monday), days,
         {key: data.get(monday, {}).get(key) or 0 for key, _title in WEEKLY})
        for monday, days in queries.week_days(report.period)
    ]  # fmt: skip


def full_weeks(report: Writer) -> list[Week]:
    """The weeks wholly inside the period (all of them when there is none)."""
    return [w for w in report.weeks if w[1] == 7] or report.weeks


def weekly(report: Writer) -> Sheet:
    columns = [(_("Week (Monday)"), 13, report.day_format), (_("Days in period"), 9, "0")]
    columns += [(title, 12, "0") for _key, title in WEEKLY]
    sheet = report.sheet(_("Weekly"), columns)
    for monday, days, row in report.weeks:
        sheet.append([monday, days] + [row[key] for key, _title in WEEKLY])
    sheet.finish()
    if any(days < 7 for _monday, days, _row in report.weeks):
        sheet.note(
            _("A week with fewer than 7 days in the period is partial: its figures are not "
              "comparable with full weeks, and the charts leave it out.")
        )  # fmt: skip
    return sheet


def line_chart(title: str, axis: str) -> LineChart:
    chart = LineChart()
    chart.title, chart.y_axis.title = title, axis
    chart.y_axis.scaling.min = 0
    return chart


def charts(report: Writer, weekly: Sheet) -> None:
    """Each chart on a page of its own, drawn from the Weekly sheet; scales apart by 10x get
    charts of their own."""
    ws = report.book.create_sheet(sheet_title(report.book, _("Charts"), report.language))
    print_setup(ws, language=report.language)
    full = full_weeks(report)
    if not full:
        ws.append([report.say(_("No weeks in this period."))])
        return
    top = weekly.header_row + 1 + report.weeks.index(full[0])
    bottom = top + len(full) - 1
    categories = Reference(weekly.ws, min_col=1, min_row=top, max_row=bottom)

    def series(col: int, last: int | None = None) -> Reference:
        return Reference(weekly.ws, min_col=col, max_col=last or col, min_row=top, max_row=bottom)

    say, axis = report.say, report.say(MEMBERS_AXIS)
    active = line_chart(say(_("Posting-active members each week")), axis)
    new = BarChart()
    new.title, new.y_axis.title = say(_("New members each week")), axis
    volume = BarChart()
    volume.type, volume.grouping, volume.overlap = "col", "stacked", 100
    volume.title = say(_("Messages, replies and reactions each week"))
    for chart, first, last, names in (
        (active, 3, 3, [FIGURES["active"]]),
        (new, 4, 4, [FIGURES["new"]]),
        (volume, 5, 7, [FIGURES["messages"], FIGURES["replies"], FIGURES["reactions"]]),
    ):
        chart.add_data(series(first, last))
        for serie, name in zip(chart.series, names, strict=True):
            serie.tx = SeriesLabel(v=say(name))
            serie.smooth = False
        chart.set_categories(categories)
        chart.height, chart.width = 15, 26
    for number, chart in enumerate((active, new, volume)):
        row = 1 + number * CHART_ROWS
        if number == 0:
            ws.append([say(_("Weeks wholly in {period}", period=report.span(report.period)))])
        else:
            ws.append([])
        for _row in range(CHART_ROWS - 1):
            ws.append([])
        ws.add_chart(chart, f"A{row + 1}")
        if number:
            ws.row_breaks.append(Break(id=row - 1))
