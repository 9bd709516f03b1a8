"""Topics: the community's topics and their keywords (commands.py), and matching a name a
person typed to a topic, forgiving plurals and small misspellings (service.py)."""

from handlers.topics.commands import router

__all__ = ["router"]
