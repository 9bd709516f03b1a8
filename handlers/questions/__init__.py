"""Questions to experts: `ask`, routing, follow-up, escalation and solving. Other features
read questions' status through `OPEN`."""

from bot.router import Router
from handlers.questions import commands, jobs, listeners, offers
from handlers.questions.service import OPEN

router = Router().include(commands.router, listeners.router, jobs.router, offers.router)

__all__ = ["OPEN", "router"]
