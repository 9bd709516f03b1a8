"""The engagement workbook's first pages: the one-page Overview for a board, the Summary of
every figure against the previous period, the Weekly figures and their Charts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.worksheet.pagebreak import Break

from bot.workbook import Sheet, print_setup
from handlers.reports import queries
from handlers.reports.period import Period

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

NOT_YET = "not yet"
PP = '+0" pp";-0" pp";0" pp"'  # a change of a share, in percentage points
CHART_ROWS = 32  # a landscape page at the default row height

Week = tuple[date, int, dict[str, int]]

OVERVIEW = [
    ("Members", "Members"),
    ("Posting-active members", "Active members"),
    ("New members", "New members"),
    ("Questions asked", "Questions asked"),
    ("Questions answered", "Questions answered"),
    ("Median hours to first response", "Median hours to a first answer"),
    ("Prompt responses", "Responses to discussion prompts"),
    ("Events held", "Learning events held"),
    ("Event sign-ups", "Event sign-ups"),
    ("Calls", "Calls for expressions of interest"),
    ("Expressions of interest", "Expressions of interest"),
]

WEEKLY = [
    ("active", "Posting-active members"), ("new", "New members"), ("messages", "Messages"),
    ("replies", "Replies"), ("reactions", "Reactions"), ("asked", "Questions asked"),
    ("answered", "Questions answered"), ("prompt_responses", "Prompt responses"),
]  # fmt: skip


# Summary --------------------------------------------------------------------------------


def figures(report: Writer, period: Period) -> dict[str, float | None]:
    """Every summary figure for `period`, by its name in the Summary."""
    conn, counts = report.conn, queries.activity_figures(report.conn, period)
    times = queries.response_times(conn, period, report.now)
    prompts = queries.prompt_figures(conn, period)
    events = queries.event_figures(conn, period)
    calls = queries.call_figures(conn, period)
    asked = times.asked

    def share(part: int) -> float | None:
        return part / asked if asked else None

    return {
        "Members": queries.member_total(conn, period),
        "Posting-active members": counts["active"],
        "New members": queries.new_member_count(conn, period),
        "Retained in week 1 (new members)": retained(report, period, 1, 7),
        "Retained in week 4 (new members)": retained(report, period, 22, 28),
        "Messages": counts["message"],
        "Replies": counts["reply"],
        "Reactions": counts["reaction"],
        "Questions asked": asked,
        "Questions answered": times.answered,
        "Questions solved": times.solved,
        "Median hours to first response": times.median,
        "90th percentile hours to first response": times.p90,
        "Share unanswered after 24 hours": share(times.unanswered_24h),
        "Share unanswered after 72 hours": share(times.unanswered_72h),
        "Prompts posted": prompts["runs"],
        "Prompt responses": prompts["responses"],
        "Unique prompt responders": prompts["responders"],
        "Events held": events["held"],
        "Event sign-ups": events["yes"],
        "Calls": calls["calls"],
        "Expressions of interest": calls["interests"],
    }


def retained(report: Writer, period: Period, first: int, last: int) -> int | str:
    """Retention among the new members who have had all `last` days by the period's end;
    "not yet" when none has."""
    ready, kept = queries.retention(report.conn, period, first, last)
    return kept if ready else NOT_YET


def formats(figure: str) -> tuple[str, str, float]:
    """A figure's number format, its change's format, and what the change is scaled by."""
    if figure.startswith("Share"):
        return "0%", PP, 100
    fmt = "0.0" if "hours" in figure else "0"
    return fmt, f"+{fmt};-{fmt};0", 1


def comparison(report: Writer, figure: str) -> tuple[list, list]:
    """A figure's row (name, this period, previous, change) and the rows' number formats."""
    value, old = report.current[figure], report.before[figure]
    fmt, change_fmt, scale = formats(figure)
    numbers = all(isinstance(v, int | float) for v in (value, old))
    change = (value - old) * scale if numbers else None
    return [figure, value, old, change], [None, fmt, fmt, change_fmt]


def summary(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Summary",
        [("Figure", 44, None), ("This period", 14, None), ("Previous period", 14, None),
         ("Change", 12, None)],
        heading=report.heading("Engagement summary"),
        one_page=True,
    )  # fmt: skip
    for figure in report.current:
        values, sheet.formats = comparison(report, figure)
        sheet.append(values)
    sheet.note("Shares change in percentage points (pp). Definitions: see the last sheet.")
    sheet.finish()


def overview(report: Writer) -> None:
    """One printed page for a board: the figures a funder asks for, and one chart."""
    sheet = Sheet(
        report.book,
        "Overview",
        [("", 34, None), ("This period", 13, None), ("Previous", 13, None),
         ("Change", 11, None), ("", 3, None), ("Week", 12, "yyyy-mm-dd"),
         ("Active members", 12, "0")],
        heading=report.heading("Community engagement"),
        one_page=True,
    )  # fmt: skip
    rows = [(figure, label) for figure, label in OVERVIEW if figure in report.current]
    full = full_weeks(report)
    height = max(len(rows), len(full))
    for i in range(height):
        values, fmts = ([None] * 4, [None] * 4)
        if i < len(rows):
            figure, label = rows[i]
            values, fmts = comparison(report, figure)
            values[0] = label
        week = [None, full[i][0], full[i][2]["active"]] if i < len(full) else []
        sheet.formats = [*fmts, None, "yyyy-mm-dd", "0"]
        sheet.append([*values, *week])
    sheet.finish()
    sheet.ws.auto_filter.ref = None
    if full:
        first = sheet.header_row + 1
        chart = line_chart("Active members each week (full weeks)", "members")
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
         {key: data.get(monday, {}).get(key) or 0 for key, _ in WEEKLY})
        for monday, days in queries.week_days(report.period)
    ]  # fmt: skip


def full_weeks(report: Writer) -> list[Week]:
    """The weeks wholly inside the period (all of them when there is none)."""
    return [w for w in report.weeks if w[1] == 7] or report.weeks


def weekly(report: Writer) -> Sheet:
    columns = [("Week (Monday)", 13, "yyyy-mm-dd"), ("Days in period", 9, "0")]
    columns += [(title, 12, "0") for _, title in WEEKLY]
    sheet = Sheet(report.book, "Weekly", columns)
    for monday, days, row in report.weeks:
        sheet.append([monday, days] + [row[key] for key, _ in WEEKLY])
    sheet.finish()
    if any(days < 7 for _, days, _ in report.weeks):
        sheet.note(
            "A week with fewer than 7 days in the period is partial: its figures are not "
            "comparable with full weeks, and the charts leave it out."
        )
    return sheet


def line_chart(title: str, axis: str) -> LineChart:
    chart = LineChart()
    chart.title, chart.y_axis.title = title, axis
    chart.y_axis.scaling.min = 0
    return chart


def charts(report: Writer, weekly: Sheet) -> None:
    """Each chart on a page of its own, drawn from the Weekly sheet; scales apart by 10x get
    charts of their own."""
    ws = report.book.create_sheet("Charts")
    print_setup(ws)
    full = full_weeks(report)
    if not full:
        ws.append(["No weeks in this period."])
        return
    top = weekly.header_row + 1 + report.weeks.index(full[0])
    bottom = top + len(full) - 1
    categories = Reference(weekly.ws, min_col=1, min_row=top, max_row=bottom)

    def series(col: int, last: int | None = None) -> Reference:
        return Reference(weekly.ws, min_col=col, max_col=last or col, min_row=top, max_row=bottom)

    active = line_chart("Posting-active members each week", "members")
    new = BarChart()
    new.title, new.y_axis.title = "New members each week", "members"
    volume = BarChart()
    volume.type, volume.grouping, volume.overlap = "col", "stacked", 100
    volume.title = "Messages, replies and reactions each week"
    for chart, first, last, names in (
        (active, 3, 3, ["Posting-active members"]),
        (new, 4, 4, ["New members"]),
        (volume, 5, 7, ["Messages", "Replies", "Reactions"]),
    ):
        chart.add_data(series(first, last))
        for serie, name in zip(chart.series, names, strict=True):
            serie.tx = SeriesLabel(v=name)
            serie.smooth = False
        chart.set_categories(categories)
        chart.height, chart.width = 15, 26
    for number, chart in enumerate((active, new, volume)):
        row = 1 + number * CHART_ROWS
        ws.append([f"Weeks wholly in {report.period.label()}"] if number == 0 else [])
        for _ in range(CHART_ROWS - 1):
            ws.append([])
        ws.add_chart(chart, f"A{row + 1}")
        if number:
            ws.row_breaks.append(Break(id=row - 1))
