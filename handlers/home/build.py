"""Building a member's home: the sections the features declared, in order, those the viewer's
roles allow, each with only the buttons whose commands the viewer may use."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot import roles
from bot.commands import split_words
from bot.context import Context, Services
from bot.home import HomePart, Viewer
from bot.router import CommandSpec, Router
from bot.types import Action, Home, Section

log = logging.getLogger(__name__)


class Sections:
    """The home sections declared on the `sources` routers (read when a home is built)."""

    def __init__(self, sources: Sequence[Router]) -> None:
        self._sources = tuple(sources)

    def parts(self) -> list[HomePart]:
        found = [part for router in self._sources for part in router.home_parts]
        return sorted(found, key=lambda part: (part.order, part.name))

    def command(self, text: str) -> CommandSpec | None:
        """The command a button's text runs, if one of the sources declares it."""
        words = split_words(text)
        best, longest = None, 0
        for router in self._sources:
            spec, used = router.find(words)
            if spec is not None and used > longest:
                best, longest = spec, used
        return best

    def may_press(self, viewer: Viewer, action: Action) -> bool:
        """Whether the viewer may use the button's command (`bot.roles.permits`, as for a
        typed command); a command declared elsewhere (the core's) is left to answer."""
        spec = self.command(action.command)
        return spec is None or roles.permits(viewer.roles, spec.roles)


def viewer(ctx: Context) -> Viewer:
    """The sender of the event being handled, as a home's viewer."""
    sender = ctx.sender
    return Viewer(sender.member_id, sender.roles, sender.user, sender.member.timezone)


async def build(ctx: Services, sections: Sections, who: Viewer) -> Home:
    """The viewer's home. A section that fails is left out (and logged): the rest shows."""
    shown = []
    for part in sections.parts():
        if not roles.permits(who.roles, part.roles):
            continue
        try:
            section = await part.func(ctx, who)
        except Exception:
            log.exception("home section %r failed for member %s", part.name, who.member_id)
            continue
        if section is not None:
            shown.append(_pressable(section, sections, who))
    return Home(tuple(shown))


def _pressable(section: Section, sections: Sections, who: Viewer) -> Section:
    def keep(actions: Sequence[Action]) -> tuple[Action, ...]:
        return tuple(action for action in actions if sections.may_press(who, action))

    items = tuple(replace(item, actions=keep(item.actions)) for item in section.items)
    return replace(section, items=items, actions=keep(section.actions))
