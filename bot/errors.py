"""Errors a handler raises to answer a person with one clear line (a catalog message,
`bot.i18n`, rendered in the reader's language)."""

from __future__ import annotations

from bot.i18n import Message


class CommandError(Exception):
    """Shown to the person as it is; nothing was changed."""

    def __init__(self, message: Message | str | None = None) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CommandError):
    """Missing or bad input; the router adds the command's usage line."""


class PermissionDenied(CommandError):
    """The person may not use this command."""
