"""Feature modules, one router each."""

from __future__ import annotations

from bot.router import Router


def all_routers() -> list[Router]:
    from handlers import admin, help

    return [help.router, admin.router]
