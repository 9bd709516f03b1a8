"""Calls for expressions of interest: announcing a call, expressing (changing, withdrawing)
interest until its deadline, reminders, the topic DM, and the closing list (`jobs`)."""

from bot.router import Router
from handlers.calls import commands, forms, home, jobs

router = Router().include(commands.router, jobs.router)
router.include(home.router)
router.include(forms.router)
