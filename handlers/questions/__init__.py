"""Questions to experts: `ask`, routing, follow-up, escalation and solving."""

from bot.router import Router
from handlers.questions import commands, jobs, listeners

router = Router().include(commands.router, listeners.router, jobs.router)
