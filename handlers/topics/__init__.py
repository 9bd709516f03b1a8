"""Topics: the community's topics and their keywords (commands.py), what a member wants to
learn (expertise.py), and matching a name a person typed to a topic, forgiving plurals and
small misspellings (service.py)."""

from bot.router import Router
from handlers.topics import commands, expertise

router = Router().include(commands.router, expertise.router)

__all__ = ["router"]
