"""The facilitators' weekly digest: built from SQL aggregates (service.py), shown on demand
with `digest` (commands.py) and sent by direct message to every facilitator once a week
(jobs.py)."""

from bot.router import Router
from handlers.digest import commands, jobs

router = Router().include(commands.router, jobs.router)
