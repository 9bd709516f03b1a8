"""Linking: one person's accounts on two platforms joined into one member, and split again by
a facilitator (commands.py); codes, claims, the merge and the split themselves (service.py)."""

from handlers.link.commands import router

__all__ = ["router"]
