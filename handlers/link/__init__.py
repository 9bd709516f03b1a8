"""Linking: one person's accounts on two platforms joined into one member (commands.py), and
the merge itself (service.py)."""

from handlers.link.commands import router

__all__ = ["router"]
