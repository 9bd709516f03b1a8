"""Emoji names as platforms send them, made comparable: Slack sends `white_check_mark` and a
skin tone as `raised_hand::skin-tone-3`; Matrix sends the character itself, perhaps with a
variation selector or a skin-tone modifier. `name()` drops the colons, the tone and the
selector, so a feature compares against one set of names and characters."""

from __future__ import annotations

import re

SOLVED = frozenset(
    {"white_check_mark", "heavy_check_mark", "ballot_box_with_check", "✅", "✔", "☑"}
)
"""The reactions that mark a question answered, as `name()` gives them."""

_TONE = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")


def name(emoji: str) -> str:
    """`:raised_hand::skin-tone-3:` -> `raised_hand`, `✋🏽` -> `✋`, `✅️` -> `✅`."""
    return _TONE.sub("", emoji.strip().strip(":")).split("::")[0]
