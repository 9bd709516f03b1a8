"""The engagement workbook, streamed with openpyxl's write-only mode.

Every value that comes from people (names, cities, questions, topics, prompt text, library
titles and links, event and call titles, organisations) is written as a text cell, so
`=HYPERLINK(...)`, `+1` or `@SUM(A1)` show as typed and never become formulas, and
without the control characters a workbook may not hold (stored before names were cleaned at
the boundary, they would make the whole report fail).
Sheets stop at Excel's row limit with a line that says so; cells at its 32,767 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from sqlalchemy import Connection

from handlers.reports import queries
from handlers.reports.period import Period

MAX_DATA_ROWS = 1_048_576 - 2  # header row, and a row saying the sheet was cut
MAX_CELL = 32_767
SHARED_BY = 5  # in a pseudonymous report, rarer cities, organisations and roles are "other"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER = Alignment(wrap_text=True, vertical="bottom")
NOT_YET = "not yet"
PP = '+0" pp";-0" pp";0" pp"'  # a change of a share, in percentage points

Pseudonym = Callable[[int, str], str]


def print_setup(ws, one_page: bool = False) -> None:
    """Landscape, one page wide (and one page tall when `one_page`), sensible margins, and a
    footer with the sheet's name and the page number."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, (1 if one_page else 0)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.7
    ws.oddFooter.center.text = "&A, page &P of &N"
    ws.oddFooter.center.size = 8


class Sheet:
    """A write-only sheet: an optional title block, then a bold header that stays in view and
    is repeated on every printed page, widths, formats and an autofilter."""

    def __init__(
        self,
        book: Workbook,
        title: str,
        columns: list[tuple[str, int, str | None]],
        heading: list[str] = (),
        one_page: bool = False,
    ):
        self.ws = book.create_sheet(title[:31])
        self.formats = [fmt for _, _, fmt in columns]
        for index, (_, width, _) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        print_setup(self.ws, one_page)
        for number, line in enumerate(heading):
            cell = WriteOnlyCell(self.ws, value=line)
            cell.font = TITLE if number == 0 else Font(italic=True)
            self.ws.append([cell])
        if heading:
            self.ws.append([])
        self.header_row = len(heading) + (2 if heading else 1)
        self.ws.freeze_panes = f"A{self.header_row + 1}"
        self.ws.print_title_rows = f"{self.header_row}:{self.header_row}"
        self.width = len(columns)
        self.rows = 0
        self.styles: dict[tuple[str, type], StyleArray] = {}
        header = []
        for name, _, _ in columns:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.font, cell.alignment = BOLD, HEADER
            header.append(cell)
        self.ws.append(header)

    def cell(self, value, fmt: str | None = None) -> WriteOnlyCell:
        if isinstance(value, Text):
            # Text has no illegal characters left and is cut to what a cell holds, so the
            # value is set as it is, as a string (never a formula).
            cell = WriteOnlyCell(self.ws)
            cell._value, cell.data_type = value.value[:MAX_CELL], "s"
            return cell
        if not fmt or value is None:
            return WriteOnlyCell(self.ws, value=value)
        return Cell(self.ws, row=1, column=1, value=value, style_array=self.style(fmt, value))

    def style(self, fmt: str, value) -> StyleArray:
        """The style of a `value` cell with the number format `fmt`, made the first time the
        slow way (openpyxl registers the formats it sees then) and copied after that."""
        key = (fmt, type(value))
        style = self.styles.get(key)
        if style is None:
            cell = WriteOnlyCell(self.ws, value=value)
            cell.number_format = fmt
            style = self.styles[key] = cell._style
        return style

    def append(self, values: Iterable) -> bool:
        """Add a row; False once the sheet is full (a closing line then says so)."""
        if self.rows >= MAX_DATA_ROWS:
            if self.rows == MAX_DATA_ROWS:
                self.ws.append([self.cell(Text("Excel's row limit reached: rows cut here."))])
                self.rows += 1
            return False
        fmts, width = self.formats, len(self.formats)
        # A plain value (no number format, not text from people) is left to openpyxl, which
        # makes the same cell from it.
        self.ws.append(
            [
                v
                if v is None or (type(v) is not Text and (i >= width or not fmts[i]))
                else self.cell(v, fmts[i] if i < width else None)
                for i, v in enumerate(values)
            ]
        )
        self.rows += 1
        return True

    def note(self, text: str) -> None:
        cell = self.cell(Text(text))
        cell.font = Font(italic=True)
        self.ws.append([cell])

    def finish(self) -> None:
        if self.rows:
            last = get_column_letter(self.width)
            end = self.header_row + min(self.rows, MAX_DATA_ROWS)
            self.ws.auto_filter.ref = f"A{self.header_row}:{last}{end}"


class Text:
    """A value from people: always written as text."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = "" if value is None else ILLEGAL_CHARACTERS_RE.sub("", str(value))


def text(value: object) -> Text | None:
    return None if value is None else Text(value)


class Writer:
    def __init__(
        self,
        conn: Connection,
        period: Period,
        now: datetime,
        timezone: str,
        pseudonym: Pseudonym | None = None,
        community: str = "",
    ) -> None:
        self.conn = conn
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
        self.book = Workbook(write_only=True)

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
        return value if queries.quasi_key(value) in self.shared[field] else queries.OTHER

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

    def write(self, target: str | IO[bytes]) -> None:
        self.weeks = self.week_rows()
        self.current, self.before = self.figures(self.period), self.figures(self.period.previous())
        self.overview()
        self.summary()
        self.weekly()
        self.charts()
        self.members()
        self.channels()
        self.questions()
        self.prompts()
        self.knowledge()
        self.events()
        self.calls()
        self.definitions()
        self.book.save(target)

    # Summary ------------------------------------------------------------------------------

    def figures(self, period: Period) -> dict[str, float | None]:
        conn, counts = self.conn, queries.activity_figures(self.conn, period)
        times = queries.response_times(conn, period, self.now)
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
            "Retained in week 1 (new members)": self.retained(period, 1, 7),
            "Retained in week 4 (new members)": self.retained(period, 22, 28),
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

    def retained(self, period: Period, first: int, last: int) -> int | str:
        """Retention among the new members who have had all `last` days by the period's end;
        "not yet" when none has."""
        ready, kept = queries.retention(self.conn, period, first, last)
        return kept if ready else NOT_YET

    def heading(self, what: str) -> list[str]:
        previous = self.period.previous()
        return [
            f"{what}: {self.community}" if self.community else what,
            f"{self.period.label()} ({self.period.days} days), compared with the "
            f"{previous.days} days before ({previous.label()})",
            f"Pulled {self.local(self.now):%Y-%m-%d %H:%M} ({self.zone.key})"
            + (", pseudonymous" if self.pseudonym is not None else ""),
        ]

    @staticmethod
    def formats(figure: str) -> tuple[str, str, float]:
        """A figure's number format, its change's format, and what the change is scaled by."""
        if figure.startswith("Share"):
            return "0%", PP, 100
        fmt = "0.0" if "hours" in figure else "0"
        return fmt, f"+{fmt};-{fmt};0", 1

    def comparison(self, figure: str) -> list:
        value, old = self.current[figure], self.before[figure]
        fmt, change_fmt, scale = self.formats(figure)
        numbers = all(isinstance(v, int | float) for v in (value, old))
        change = (value - old) * scale if numbers else None
        return [figure, value, old, change], [None, fmt, fmt, change_fmt]

    def summary(self) -> None:
        sheet = Sheet(
            self.book,
            "Summary",
            [("Figure", 44, None), ("This period", 14, None), ("Previous period", 14, None),
             ("Change", 12, None)],
            heading=self.heading("Engagement summary"),
            one_page=True,
        )  # fmt: skip
        for figure in self.current:
            values, sheet.formats = self.comparison(figure)
            sheet.append(values)
        sheet.note("Shares change in percentage points (pp). Definitions: see the last sheet.")
        sheet.finish()

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

    def overview(self) -> None:
        """One printed page for a board: the figures a funder asks for, and one chart."""
        sheet = Sheet(
            self.book,
            "Overview",
            [("", 34, None), ("This period", 13, None), ("Previous", 13, None),
             ("Change", 11, None), ("", 3, None), ("Week", 12, "yyyy-mm-dd"),
             ("Active members", 12, "0")],
            heading=self.heading("Community engagement"),
            one_page=True,
        )  # fmt: skip
        rows = [(figure, label) for figure, label in self.OVERVIEW if figure in self.current]
        full = self.full_weeks()
        height = max(len(rows), len(full))
        for i in range(height):
            values, formats = ([None] * 4, [None] * 4)
            if i < len(rows):
                figure, label = rows[i]
                values, formats = self.comparison(figure)
                values[0] = label
            week = [None, full[i][0], full[i][2]["active"]] if i < len(full) else []
            sheet.formats = [*formats, None, "yyyy-mm-dd", "0"]
            sheet.append([*values, *week])
        sheet.finish()
        sheet.ws.auto_filter.ref = None
        if full:
            first = sheet.header_row + 1
            chart = self.line_chart("Active members each week (full weeks)", "members")
            chart.add_data(
                Reference(
                    sheet.ws, min_col=7, min_row=sheet.header_row, max_row=first + len(full) - 1
                ),
                titles_from_data=True,
            )
            chart.set_categories(
                Reference(sheet.ws, min_col=6, min_row=first, max_row=first + len(full) - 1)
            )
            chart.series[0].smooth = False
            chart.legend = None
            chart.height, chart.width = 8, 22
            sheet.ws.add_chart(chart, f"A{sheet.header_row + height + 2}")

    # Weekly -------------------------------------------------------------------------------

    WEEKLY = [
        ("active", "Posting-active members"), ("new", "New members"), ("messages", "Messages"),
        ("replies", "Replies"), ("reactions", "Reactions"), ("asked", "Questions asked"),
        ("answered", "Questions answered"), ("prompt_responses", "Prompt responses"),
    ]  # fmt: skip

    def week_rows(self) -> list[tuple[date, int, dict[str, int]]]:
        data = queries.weekly(self.conn, self.period)
        return [
            (date.fromisoformat(monday), days,
             {key: data.get(monday, {}).get(key) or 0 for key, _ in self.WEEKLY})
            for monday, days in queries.week_days(self.period)
        ]  # fmt: skip

    def full_weeks(self) -> list[tuple[date, int, dict[str, int]]]:
        """The weeks wholly inside the period (all of them when there is none)."""
        return [w for w in self.weeks if w[1] == 7] or self.weeks

    def weekly(self) -> None:
        columns = [("Week (Monday)", 13, "yyyy-mm-dd"), ("Days in period", 9, "0")]
        columns += [(title, 12, "0") for _, title in self.WEEKLY]
        sheet = Sheet(self.book, "Weekly", columns)
        for monday, days, row in self.weeks:
            sheet.append([monday, days] + [row[key] for key, _ in self.WEEKLY])
        sheet.finish()
        if any(days < 7 for _, days, _ in self.weeks):
            sheet.note(
                "A week with fewer than 7 days in the period is partial: its figures are not "
                "comparable with full weeks, and the charts leave it out."
            )
        self.weekly_sheet = sheet

    @staticmethod
    def line_chart(title: str, axis: str) -> LineChart:
        chart = LineChart()
        chart.title, chart.y_axis.title = title, axis
        chart.y_axis.scaling.min = 0
        return chart

    CHART_ROWS = 32  # a landscape page at the default row height

    def charts(self) -> None:
        """Each chart on a page of its own; scales apart by 10x get charts of their own."""
        ws = self.book.create_sheet("Charts")
        print_setup(ws)
        weekly, full = self.weekly_sheet, self.full_weeks()
        if not full:
            ws.append(["No weeks in this period."])
            return
        top = weekly.header_row + 1 + self.weeks.index(full[0])
        bottom = top + len(full) - 1
        categories = Reference(weekly.ws, min_col=1, min_row=top, max_row=bottom)

        def series(col: int, last: int | None = None) -> Reference:
            return Reference(
                weekly.ws, min_col=col, max_col=last or col, min_row=top, max_row=bottom
            )

        active = self.line_chart("Posting-active members each week", "members")
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
            row = 1 + number * self.CHART_ROWS
            ws.append([f"Weeks wholly in {self.period.label()}"] if number == 0 else [])
            for _ in range(self.CHART_ROWS - 1):
                ws.append([])
            ws.add_chart(chart, f"A{row + 1}")
            if number:
                ws.row_breaks.append(Break(id=row - 1))

    # Members, channels, questions, prompts, knowledge, events, calls ----------------------

    def members(self) -> None:
        dt = "yyyy-mm-dd hh:mm"
        sheet = Sheet(
            self.book,
            "Members",
            [("Name", 28, None), ("City", 16, None), ("Organisation", 24, None),
             ("Role", 20, None), ("Joined", 17, dt), ("First activity", 17, dt),
             ("Last activity", 17, dt), ("Messages", 10, "0"), ("Replies", 10, "0"),
             ("Reactions", 10, "0"), ("Questions asked", 10, "0"),
             ("Questions answered", 10, "0"), ("Prompts answered", 10, "0"),
             ("Can help with", 30, None), ("Status", 10, None)],
        )  # fmt: skip
        for row in queries.members(self.conn, self.period):
            (member_id, name, city, org, role, joined, first, last, last_post,
             messages, replies, reactions, asked, answered, prompts, offers) = row  # fmt: skip
            status = queries.member_status(joined, last_post, self.period)
            if not sheet.append(
                [self.name(member_id, name), text(self.shown("city", city)),
                 text(self.shown("org", org)), text(self.shown("role", role)),
                 self.coarse(joined, month=True), self.coarse(first), self.coarse(last),
                 messages, replies,
                 reactions, asked, answered, prompts, text(offers), status]
            ):  # fmt: skip
                break
        if not sheet.rows:
            sheet.note("No members yet.")
        sheet.finish()

    def channels(self) -> None:
        sheet = Sheet(
            self.book,
            "Channels",
            [("Platform", 10, None), ("Channel", 28, None), ("Posting-active members", 14, "0"),
             ("Messages", 10, "0"), ("Replies", 10, "0"), ("Reactions", 10, "0"),
             ("Joins", 10, "0")],
        )  # fmt: skip
        for platform, name, *numbers in queries.channels(self.conn, self.period):
            sheet.append([platform, text(name), *numbers])
        if not sheet.rows:
            sheet.note("No activity in any channel in this period.")
        sheet.finish()

    def questions(self) -> None:
        dt = "yyyy-mm-dd hh:mm"
        sheet = Sheet(
            self.book,
            "Questions",
            [("Id", 7, "0"), ("Asked", 17, dt), ("Topics", 24, None), ("Asker", 24, None),
             ("Experts notified", 10, "0"), ("First response", 17, dt),
             ("Hours to first response", 12, "0.0"), ("Solved", 17, dt),
             ("Escalations", 10, "0"), ("Question", 60, None)],
        )  # fmt: skip
        for (
            qid,
            asked,
            topics,
            asker,
            asker_id,
            experts,
            first,
            solved,
            escalations,
            body,
        ) in queries.questions(self.conn, self.period):
            hours = (first - asked).total_seconds() / 3600 if first else None
            if not sheet.append(
                [qid, self.local(asked), text(topics), self.name(asker_id, asker), experts,
                 self.local(first), hours, self.local(solved), escalations, Text(body)]
            ):  # fmt: skip
                break
        if not sheet.rows:
            sheet.note("No questions were asked in this period.")
        sheet.finish()

    def prompts(self) -> None:
        sheet = Sheet(
            self.book,
            "Prompts",
            [("Posted", 17, "yyyy-mm-dd hh:mm"), ("Platform", 10, None), ("Channel", 24, None),
             ("Prompt", 60, None), ("Responses", 10, "0"), ("Unique responders", 10, "0"),
             ("First-time responders", 10, "0")],
        )  # fmt: skip
        for posted, platform, channel, body, *numbers in queries.prompts(self.conn, self.period):
            sheet.append([self.local(posted), platform, text(channel), Text(body), *numbers])
        if not sheet.rows:
            sheet.note("No discussion prompts were posted in this period.")
        sheet.finish()

    def knowledge(self) -> None:
        sheet = Sheet(
            self.book,
            "Knowledge",
            [("Id", 7, "0"), ("Kind", 10, None), ("Title", 60, None), ("Topics", 24, None),
             ("Created", 12, "yyyy-mm-dd"), ("Link", 40, None), ("Shown", 10, "0"),
             ("Answered", 10, "0")],
        )  # fmt: skip
        for (
            entry_id,
            url,
            question_id,
            title,
            topics,
            created,
            shown,
            answered,
        ) in queries.knowledge(self.conn, self.period):
            kind = "resource" if url is not None else "question"
            if url is not None:
                link = Text(url)
            else:
                link = None if question_id is None else f"question #{question_id}"
            if not sheet.append(
                [entry_id, kind, Text(title), text(topics), self.local(created).date(), link,
                 shown, answered]
            ):  # fmt: skip
                break
        if not sheet.rows:
            sheet.note("The knowledge library had no entries by the end of this period.")
        sheet.finish()

    def events(self) -> None:
        sheet = Sheet(
            self.book,
            "Events",
            [("Id", 7, "0"), ("Title", 50, None), ("Starts", 17, "yyyy-mm-dd hh:mm"),
             ("Channel", 24, None), ("Cancelled", 10, None), ("Yes", 8, "0"),
             ("Maybe", 8, "0"), ("No", 8, "0"), ("Yes by city", 40, None)],
        )  # fmt: skip
        for (
            event_id,
            title,
            starts,
            channel,
            cancelled,
            yes,
            maybe,
            no,
            cities,
        ) in queries.events(self.conn, self.period, self.shown):
            if not sheet.append(
                [event_id, Text(title), self.local(starts), text(channel),
                 "yes" if cancelled is not None else "no", yes, maybe, no, text(cities or None)]
            ):  # fmt: skip
                break
        if not sheet.rows:
            sheet.note("No events started in this period.")
        sheet.finish()

    def calls(self) -> None:
        sheet = Sheet(
            self.book,
            "Calls",
            [("Id", 7, "0"), ("Title", 50, None), ("Deadline", 12, "yyyy-mm-dd"),
             ("Status", 10, None), ("Interests", 10, "0"), ("By city", 40, None),
             ("By organisation", 50, None)],
        )  # fmt: skip
        for (
            call_id,
            title,
            deadline,
            still_open,
            interests,
            cities,
            orgs,
        ) in queries.calls(self.conn, self.period, self.shown):
            day = (self.local(deadline) - timedelta(seconds=1)).date()  # the midnight after it
            if not sheet.append(
                [call_id, Text(title), day, "open" if still_open else "closed", interests,
                 text(cities or None), text(orgs or None)]
            ):  # fmt: skip
                break
        if not sheet.rows:
            sheet.note("No call had its deadline in this period or was open at its end.")
        sheet.finish()

    def definitions(self) -> None:
        sheet = Sheet(self.book, "Definitions", [("Term", 30, None), ("Meaning", 100, None)])
        sheet.formats = [None, None]
        rows = [*DEFINITIONS,
                ("Period", f"{self.period.label()}, dates in {self.zone.key}; weeks are ISO "
                 "weeks (Monday to Sunday) in UTC."),
                ("Built", f"{self.local(self.now):%Y-%m-%d %H:%M} ({self.zone.key})")]  # fmt: skip
        for term, meaning in rows:
            cells = [sheet.cell(Text(term)), sheet.cell(Text(meaning))]
            cells[0].font = BOLD
            for cell in cells:
                cell.alignment = WRAP
            sheet.ws.append(cells)
            sheet.rows += 1


DEFINITIONS = [
    (
        "Posting-active member",
        "Posted, replied or reacted at least once in the period (a bot "
        "sees posts and reactions, never who read). Bots are never counted.",
    ),
    (
        "New member",
        "First joined a community channel in the period (when no join was seen, "
        "their first activity counts as joining).",
    ),
    (
        "Retained in week 1 / week 4",
        "A new member of the period who posted, replied or reacted "
        "again 1-7 days / 22-28 days after joining, counted among the new members who had "
        "all those days by the end of the period; not yet when none had.",
    ),
    (
        "Messages, replies, reactions",
        "Posts in a channel, replies in a thread, reactions, by "
        "members (commands to the bot and direct messages with it are not counted).",
    ),
    (
        "Question answered",
        "A question with at least one reply in its thread by someone other "
        "than the asker; reactions and bots do not count.",
    ),
    (
        "Hours to first response",
        "From the question to the first reply in its thread by someone "
        "other than the asker. Median and 90th percentile use linear interpolation between the "
        "closest ranks (Excel's PERCENTILE.INC) over the answered questions asked in the period.",
    ),
    (
        "Share unanswered after 24 / 72 hours",
        "Of the questions asked in the period, those with "
        "no response within 24 / 72 hours (counted once the question is that old).",
    ),
    (
        "Prompt response",
        "A reply in the thread of a discussion prompt. Unique responders count "
        "each member once per prompt; first-time responders answered a prompt for the first time.",
    ),
    (
        "Knowledge",
        "The library as it stood at the end of the period: every entry created before the "
        "period ended, not only those created in it (the library is cumulative; removed "
        "resources are not listed). Kind: question (a solved question kept with the answers in "
        "its thread) or resource (a link a facilitator added).",
    ),
    (
        "Knowledge: shown, answered",
        "Shown: how often the entry was offered in search results and at `ask`. Answered: how "
        "many questions it answered. Both are running totals up to when the report was built, "
        "not counts within the period.",
    ),
    (
        "Events held, event sign-ups",
        "Events that started in the period and were not cancelled, and the members who "
        "answered yes to them (their latest answer).",
    ),
    (
        "Events",
        "Every event that starts in the period, cancelled ones included; times in community "
        "time. Yes by city: the yes answers by each member's city as it is now (unknown when "
        "not given).",
    ),
    (
        "Calls, expressions of interest",
        "Calls whose deadline falls in the period, and the interests in them not withdrawn.",
    ),
    (
        "Calls",
        "Calls whose deadline falls in the period or that were still open at its end. Status: "
        "open or closed at the end of the period. By city, by organisation: the interests not "
        "withdrawn, by the city and organisation the member gave when expressing interest "
        "(unknown when not given).",
    ),
    ("Status: new", "First joined in the period."),
    ("Status: active", "Posted, replied or reacted in the period."),
    ("Status: quiet", "Not active in the period, but posted in the 90 days before it ends."),
    ("Status: dormant", "No posts, replies or reactions in the 90 days before the period ends."),
    (
        "Change",
        "This period's figure minus the previous period's (same length, just before); "
        "for shares, in percentage points (pp).",
    ),
    ("Members", "Members (bots excluded) who had joined by the end of the period."),
    (
        "Pseudonymous",
        "When asked for, names are replaced by stable pseudonyms: the same member "
        f"has the same pseudonym in every report. A city, organisation or role fewer than "
        f"{SHARED_BY} members share is shown as other; join dates are shown as the month and "
        "activity times as the day.",
    ),
]
