"""The engagement workbook and the text summary: figures from SQL aggregates (queries.py),
streamed into an openpyxl write-only workbook (workbook.py)."""

from bot.reporting.period import Period, parse_period

__all__ = ["Period", "parse_period"]
