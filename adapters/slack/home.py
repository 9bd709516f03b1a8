"""A member's home as Slack's Home tab: the Block Kit `home` view `views.publish` shows
(https://api.slack.com/reference/surfaces/views, https://api.slack.com/surfaces/app-home).

Each section is a `header`, its items `section` blocks of mrkdwn each followed by an
`actions` block of its buttons, a `context` block when it has no items, its own buttons,
and a `divider` before the next. A button is drawn as on a message (`ACTION_PREFIX` action
id, `value` the command), so a click runs the same command as typing it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from adapters.slack.text import (
    ACTION_PREFIX,
    BUTTONS_PER_BLOCK,
    SECTION_CHARS,
    VALUE_CHARS,
    _label,
    log,
    split_text,
    to_mrkdwn,
)
from bot.types import Action, Home

MAX_BLOCKS = 100
"""Block Kit: the most blocks one view holds."""
HEADER_CHARS = 150
"""Block Kit: the longest `header` text."""


def home_blocks(home: Home) -> list[dict[str, Any]]:
    """The view's blocks for `home`, whose texts are rendered already (Markdown). Past
    `MAX_BLOCKS`, the last blocks are left out (with a warning)."""
    numbers = itertools.count()
    drawn: list[dict[str, Any]] = []
    for n, section in enumerate(home.sections):
        if n:
            drawn.append({"type": "divider"})
        drawn.append({"type": "header", "text": _plain(section.title)})
        for item in section.items:
            drawn.extend(_text(item.text))
            drawn.extend(_buttons(item.actions, numbers))
        if not section.items and section.empty:
            drawn.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": _mrkdwn(section.empty)[0]}],
                }
            )
        drawn.extend(_buttons(section.actions, numbers))
    if len(drawn) > MAX_BLOCKS:
        log.warning("Slack: a Home tab of %d blocks was cut to %d", len(drawn), MAX_BLOCKS)
        drawn = drawn[:MAX_BLOCKS]
    return drawn


def _plain(text: str | None) -> dict[str, Any]:
    said = " ".join((text or "").split()) or "·"
    if len(said) > HEADER_CHARS:
        said = said[: HEADER_CHARS - 1].rstrip() + "…"
    return {"type": "plain_text", "text": said, "emoji": True}


def _mrkdwn(text: str | None) -> list[str]:
    return split_text(to_mrkdwn(text or ""), SECTION_CHARS) or [" "]


def _text(text: str | None) -> Iterator[dict[str, Any]]:
    for chunk in _mrkdwn(text):
        yield {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}


def _buttons(actions: Sequence[Action], numbers: Iterator[int]) -> Iterator[dict[str, Any]]:
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _label(action), "emoji": True},
            "action_id": f"{ACTION_PREFIX}{next(numbers)}",
            "value": action.command,
        }
        for action in actions
        if action.command.strip() and len(action.command) <= VALUE_CHARS
    ]
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        yield {"type": "actions", "elements": buttons[start : start + BUTTONS_PER_BLOCK]}
