"""Calls for expressions of interest: announcing a call, expressing (changing, withdrawing)
interest until its deadline, reminders, the topic DM, and the closing list (`jobs`)."""

from handlers.calls.commands import router

__all__ = ["router"]
