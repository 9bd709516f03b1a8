"""Learning events: announcing, signing up, reminders, starting and cancelling."""

from bot.router import Router
from handlers.events import commands, forms, home, jobs, listeners
from handlers.events.invitations import vevent
from handlers.events.service import ANSWERED

router = Router().include(commands.router, listeners.router, jobs.router)
router.include(home.router)
router.include(forms.router)

__all__ = ["ANSWERED", "router", "vevent"]
