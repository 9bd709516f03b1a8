"""Reports: the engagement workbook and the text summary, built from SQL aggregates
(queries/) streamed into the core write-only workbook writer (`bot.workbook`; the report's
sheets in workbook.py, overview.py, sheets.py, connections.py, definitions.py); the `report`
and `stats` commands (commands.py) and the sample community of `convener demo` (demo.py).

Other features use the report's period and queries from here: `Period`, `new_members`,
`prompts`, `channels`."""

from handlers.reports import home
from handlers.reports.commands import router
from handlers.reports.period import Period, parse_period
from handlers.reports.queries import channels, new_members, prompts

router.include(home.router)

__all__ = ["Period", "channels", "new_members", "parse_period", "prompts", "router"]
