"""Reports: the engagement workbook and the text summary, built from SQL aggregates
(queries.py) streamed into an openpyxl write-only workbook (workbook.py); the `report` and
`stats` commands (commands.py) and the sample community of `convener demo` (demo.py)."""

from handlers.reports.commands import router
from handlers.reports.period import Period, parse_period

__all__ = ["Period", "parse_period", "router"]
