"""The one xlsx writer: openpyxl's write-only mode, streamed sheet by sheet (the engagement
report, the list of interest in a call, a member's own data).

A sheet is written in its reader's language (`language`): its name, headers, title lines and
notes are catalog messages (`bot.i18n`) rendered as they are written, its name kept valid for
Excel whatever the translation (`sheet_title`), and its dates shown in the language's
conventions (`day_pattern`, `cell_format`); English keeps ISO dates.

Every value that comes from people is written as a `Text` cell, so `=HYPERLINK(...)`, `+1` or
`@SUM(A1)` show as typed and never become formulas, and without the control characters a
workbook may not hold (they would make the whole workbook fail).
Sheets stop at Excel's row limit with a line that says so; cells at its 32,767 characters.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable

from babel.dates import tokenize_pattern
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

from bot.i18n import ENGLISH, Message, _, babel_locale, render

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DATA_ROWS = 1_048_576 - 2  # header row, and a row saying the sheet was cut
MAX_CELL = 32_767
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER = Alignment(wrap_text=True, vertical="bottom")

MAX_TITLE = 31  # a sheet's name, in UTF-16 units as Excel counts them
NOT_IN_TITLE = re.compile(r"[\\/?*:\[\]\x00-\x1f]")
RESERVED_TITLES = {"history"}  # Excel keeps this name for itself
ISO_DAY, ISO_MOMENT = "yyyy-MM-dd", "yyyy-MM-dd HH:mm"  # CLDR patterns
# Translators: a printed page's footer. Keep the codes: &A is the sheet's name, &P the page,
# &N the number of pages.
FOOTER = _("&A, page &P of &N")

# header (a `Text` when it comes from people), width, number format
Column = tuple["Message | str | Text | None", int, str | None]


def new_book() -> Workbook:
    """An empty write-only workbook."""
    return Workbook(write_only=True)


def to_bytes(book: Workbook) -> bytes:
    """The workbook as an .xlsx file (a write-only workbook can be saved once)."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_title(book: Workbook, title: Message | str, language: str = ENGLISH) -> str:
    """A sheet's name as Excel accepts it, whatever the translation: without \\ / ? * : [ ],
    not starting or ending with an apostrophe, at most 31 characters (cut at a character,
    never inside one), and not one the workbook already has (a number is added)."""
    name = unicodedata.normalize("NFC", render(title, language))
    name = " ".join(NOT_IN_TITLE.sub(" ", name).split()).strip("'") or "Sheet"
    taken = {existing.casefold() for existing in book.sheetnames} | RESERVED_TITLES
    candidate, number = _cut(name, MAX_TITLE), 1
    while candidate.casefold() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = _cut(name, MAX_TITLE - len(suffix)) + suffix
    return candidate


def _cut(name: str, most: int) -> str:
    """`name` cut to `most` UTF-16 units (Excel's count), without a trailing space or
    apostrophe."""
    units, kept = 0, []
    for char in name:
        units += 2 if ord(char) > 0xFFFF else 1
        if units > most:
            break
        kept.append(char)
    while kept and len(kept) < len(name) and unicodedata.combining(name[len(kept)]):
        kept.pop()  # not a letter cut from the accents that follow it
    return "".join(kept).rstrip().rstrip("'").rstrip() or "Sheet"


def day_pattern(language: str, time: bool = False) -> str:
    """The CLDR pattern of a date (with `time`, a date and time to the minute) in a workbook
    in `language`: ISO in English, as the workbooks have always been; the language's numeric
    date with a four-digit year (and its short time) otherwise."""
    if language == ENGLISH:
        return ISO_MOMENT if time else ISO_DAY
    locale = babel_locale(language)
    skeleton = locale.datetime_skeletons.get("yMd")
    day = skeleton.pattern if skeleton is not None else locale.date_formats["short"].pattern
    if not time:
        return day
    both = str(locale.datetime_formats.get("short", "{1} {0}"))
    return both.replace("{1}", day).replace("{0}", locale.time_formats["short"].pattern)


EXCEL_FIELDS = {
    "y": lambda n: "yy" if n == 2 else "yyyy",
    "M": lambda n: "m" * min(n, 4),
    "L": lambda n: "m" * min(n, 4),
    "d": lambda n: "d" * min(n, 2),
    "E": lambda n: "ddd" if n <= 3 else "dddd",
    "c": lambda n: "ddd" if n <= 3 else "dddd",
    "e": lambda n: "ddd" if n <= 3 else "dddd",
    "H": lambda n: "h" * min(n, 2),
    "k": lambda n: "h" * min(n, 2),
    "h": lambda n: "h" * min(n, 2),
    "K": lambda n: "h" * min(n, 2),
    "m": lambda n: "m" * min(n, 2),
    "s": lambda n: "s" * min(n, 2),
    "a": lambda n: "AM/PM",
    "b": lambda n: "AM/PM",
    "B": lambda n: "AM/PM",
}
PLAIN_IN_FORMAT = set(" -/:()")


def cell_format(pattern: str) -> str:
    """A CLDR date pattern (`day_pattern`) as an Excel number format (`dd/MM/y HH:mm` is
    `dd/mm/yyyy hh:mm`): the cell keeps its date, shown in the language's order."""
    parts = []
    for kind, value in tokenize_pattern(pattern):
        if kind == "field":
            letter, count = value
            if letter in EXCEL_FIELDS:
                parts.append(EXCEL_FIELDS[letter](count))
        elif all(char in PLAIN_IN_FORMAT for char in value):
            parts.append(value)
        else:
            parts.append('"' + value.replace('"', "") + '"')
    return "".join(parts)


def print_setup(ws, one_page: bool = False, language: str = ENGLISH) -> None:
    """Landscape, one page wide (and one page tall when `one_page`), sensible margins, and a
    footer with the sheet's name and the page number (in `language`)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, (1 if one_page else 0)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.7
    ws.oddFooter.center.text = render(FOOTER, language)
    ws.oddFooter.center.size = 8


class Sheet:
    """A write-only sheet: an optional title block, then a bold header that stays in view and
    is repeated on every printed page, widths, formats and an autofilter. Its name, headers,
    title lines and notes are messages, rendered in `language`; a header may be None
    (empty), or a `Text` from people (a city), written as text."""

    def __init__(
        self,
        book: Workbook,
        title: Message | str,
        columns: list[Column],
        heading: Iterable[Message | str] = (),
        one_page: bool = False,
        language: str = ENGLISH,
    ):
        self.language = language
        self.ws = book.create_sheet(sheet_title(book, title, language))
        self.formats = [fmt for _name, _width, fmt in columns]
        for index, (_name, width, _fmt) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        print_setup(self.ws, one_page, language)
        heading = [render(line, language) for line in heading]
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
        for name, _width, _fmt in columns:
            if isinstance(name, Text):
                cell = self.cell(name)
            else:
                cell = WriteOnlyCell(self.ws, value="" if name is None else render(name, language))
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
                self.ws.append([self.cell(Text(self.say(ROWS_CUT)))])
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

    def say(self, message: Message | str) -> str:
        """A message in the sheet's language."""
        return render(message, self.language)

    def note(self, text: Message | str) -> None:
        cell = self.cell(Text(self.say(text)))
        cell.font = Font(italic=True)
        self.ws.append([cell])

    def finish(self) -> None:
        if self.rows:
            last = get_column_letter(self.width)
            end = self.header_row + min(self.rows, MAX_DATA_ROWS)
            self.ws.auto_filter.ref = f"A{self.header_row}:{last}{end}"


ROWS_CUT = _("Excel's row limit reached: rows cut here.")


class Text:
    """A value from people: always written as text."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = "" if value is None else ILLEGAL_CHARACTERS_RE.sub("", str(value))


def text(value: object) -> Text | None:
    return None if value is None else Text(value)
