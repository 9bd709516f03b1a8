"""Calls for expressions of interest: announcing a call, expressing (changing, withdrawing)
interest until its deadline, reminders, the topic DM, and the closing list (`jobs`)."""

from bot.router import Router
from handlers.calls import commands, forms, home, jobs
from handlers.calls.service import last_day

router = Router().include(commands.router, jobs.router)
router.include(home.router)
router.include(forms.router)

__all__ = ["last_day", "router"]
