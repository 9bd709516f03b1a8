"""Weekly discussion prompts: the commands (the posting itself is `schedules.prompts`)."""

from handlers.prompts.commands import router

__all__ = ["router"]
