"""A home as text (Markdown): what the `home` command writes, where every button becomes
the command to type."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Message, _, join, lines
from bot.types import Action, Home, Item, Section


def as_text(home: Home) -> Message:
    return lines(*(_section(section) for section in home.sections), sep="\n\n")


def _section(section: Section) -> Message:
    shown = [_item(item) for item in section.items]
    if not shown and section.empty is not None:
        shown = [section.empty]
    return lines(_("**{title}**", title=section.title), *shown, _buttons(section.actions))


def _item(item: Item) -> Message:
    return lines(item.text, _buttons(item.actions))


def _buttons(actions: Sequence[Action]) -> Message | None:
    if not actions:
        return None
    typed = join((_("{label}: `{command}`", label=a.label, command=a.command) for a in actions),
                 " · ")  # fmt: skip
    return _("→ {commands}", commands=typed)
