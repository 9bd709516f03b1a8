"""The member's home: the `home` command (the same summary as text on every platform), the
page a member opens on their platform (Slack's Home tab), published when they open it and
again, paced, whenever it goes stale.

It only collects: each feature declares its own section (`Router.home`, `bot.home`), and the
home feature shows those a viewer's roles allow, with the buttons whose commands they may
use. `feature(sources)` is the feature for the sections the `sources` routers declare (the
composition root passes every other feature)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.router import Router
from handlers.home import commands, jobs, listeners
from handlers.home.build import Sections


def feature(sources: Sequence[Router]) -> Router:
    sections = Sections(sources)
    return Router().include(
        commands.router(sections), listeners.router(sections), jobs.router(sections)
    )


__all__ = ["feature"]
