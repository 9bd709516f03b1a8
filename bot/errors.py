"""Errors a handler raises to answer a person with one clear line."""


class CommandError(Exception):
    """Shown to the person as it is; nothing was changed."""


class UsageError(CommandError):
    """Missing or bad input; the router adds the command's usage line."""


class PermissionDenied(CommandError):
    """The person may not use this command."""
