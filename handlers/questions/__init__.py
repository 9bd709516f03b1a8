"""Questions to experts: `ask`, routing, follow-up, escalation and solving. Other features
read questions' status through `OPEN`."""

from bot.router import Router
from handlers.questions import commands, forms, home, jobs, listeners, offers, on_behalf
from handlers.questions.service import OPEN

router = Router().include(
    commands.router, listeners.router, jobs.router, offers.router, on_behalf.router
)
router.include(home.router)
router.include(forms.router)

__all__ = ["OPEN", "router"]
