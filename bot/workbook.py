"""The one xlsx writer: openpyxl's write-only mode, streamed sheet by sheet (the engagement
report, the list of interest in a call, a member's own data).

Every value that comes from people is written as a `Text` cell, so `=HYPERLINK(...)`, `+1` or
`@SUM(A1)` show as typed and never become formulas, and without the control characters a
workbook may not hold (they would make the whole workbook fail).
Sheets stop at Excel's row limit with a line that says so; cells at its 32,767 characters.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DATA_ROWS = 1_048_576 - 2  # header row, and a row saying the sheet was cut
MAX_CELL = 32_767
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER = Alignment(wrap_text=True, vertical="bottom")

Column = tuple[str, int, str | None]  # header, width, number format


def new_book() -> Workbook:
    """An empty write-only workbook."""
    return Workbook(write_only=True)


def to_bytes(book: Workbook) -> bytes:
    """The workbook as an .xlsx file (a write-only workbook can be saved once)."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


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
        columns: list[Column],
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
