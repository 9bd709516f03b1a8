"""Weekly discussion prompts: the queue and schedules (`commands`), posting (`service`) and the
scheduler's jobs that post them (`jobs`)."""

from bot.router import Router
from handlers.prompts import commands, home, jobs, service

router = Router().include(commands.router, jobs.router, service.router)
router.include(home.router)
