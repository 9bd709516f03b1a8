"""Weekly discussion prompts: the queue and schedules (`commands`), posting (`service`) and the
scheduler's jobs that post them (`jobs`)."""

from bot.router import Router
from handlers.prompts import commands, jobs, service

router = Router().include(commands.router, jobs.router, service.router)
