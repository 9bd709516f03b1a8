"""Introductions between members of different cities, on a rhythm, with meeting times in
everyone's working hours and a follow-up asking whether they met."""

from bot.router import Router
from handlers.intros import commands, jobs, listeners, service

router = Router().include(commands.router, listeners.router, jobs.router, service.router)
