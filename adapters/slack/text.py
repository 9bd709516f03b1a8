"""Text between the core and Slack: Markdown out as mrkdwn (with buttons, as Block Kit),
Slack's message markup in as plain text, and Slack's user mentions."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from bot import moments
from bot.types import Action, UserRef

log = logging.getLogger(__name__)

PLATFORM = "slack"
ACTION_PREFIX = "convener:"
"""The start of the `action_id` of every button Convener draws (`convener:0`, `convener:1`...);
the button's `value` is the command it stands for."""
SECTION_CHARS = 3000
"""Block Kit: the most text one `section` block holds."""
LABEL_CHARS = 75
"""Block Kit: the longest button label."""
VALUE_CHARS = 2000
"""Block Kit: the longest button `value` (the command)."""
BUTTONS_PER_BLOCK = 25
"""Block Kit: the most elements one `actions` block holds."""
MAX_BLOCKS = 50
"""Block Kit: the most blocks one message holds."""

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^<>]*))?>")
_MARKUP = re.compile(r"<([^<>|\s]+)(?:\|([^<>]*))?>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")

_FENCE = re.compile(r"```(?:[\w+-]*\n)?(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()]+)\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>")
_KEEP = re.compile(r"<[@#][A-Z0-9]+(?:\|[^<>]*)?>")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.M)
_QUOTE = re.compile(r"^&gt;", re.M)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x01"


def escape(text: str) -> str:
    """Slack's required escaping: `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """The core's Markdown as Slack mrkdwn: `**b**` → `*b*`, `*i*` → `_i_`, `~~s~~` → `~s~`,
    `[t](url)` → `<url|t>`, headings bold, `-` bullets as `•`. Code is kept verbatim, and
    Slack mentions (`<@U…>`, `<#C…>`) stay live; any other `<`, `>` or `&` is escaped, so
    text quoted from a person cannot ping `@channel`."""
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    text = moments.render(markdown, lambda at, fallback: keep(_date(at, fallback)))
    text = _FENCE.sub(lambda m: keep(f"```{escape(m.group(1))}```"), text)
    text = _CODE.sub(lambda m: keep(f"`{escape(m.group(1))}`"), text)
    text = _LINK.sub(lambda m: keep(f"<{_url(m.group(2))}|{escape(m.group(1))}>"), text)
    text = _AUTOLINK.sub(lambda m: keep(f"<{_url(m.group(1))}>"), text)
    text = _KEEP.sub(lambda m: keep(m.group(0)), text)
    text = _HEADING.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = _QUOTE.sub(">", escape(text))
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], text)


def _date(at: int, fallback: str) -> str:
    """A moment as Slack shows it in each reader's own timezone; `fallback` where it cannot."""
    return f"<!date^{at}^{{date_short_pretty}} at {{time}}|{escape(fallback)}>"


def _url(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def from_slack(text: str) -> str:
    """What a person typed, from Slack's markup: entities decoded, links as plain URLs (or
    `[label](url)` when the label differs), `<#C1|name>` as `#name`, `<!here>` as `@here`.
    User mentions stay in Slack's syntax (`<@U123>`, label dropped) for `user_from_mention`."""
    return _unescape(_MARKUP.sub(_markup_token, text))


def _markup_token(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return f"<{target}>"
    if target.startswith("#"):
        return f"#{label}" if label else f"<{target}>"
    if target.startswith("!"):
        if target[1:] in ("here", "channel", "everyone"):
            return "@" + target[1:]
        return label or ""
    bare = target.removeprefix("mailto:").split("://", 1)[-1]
    if not label or label in (target, bare):
        return bare if target.startswith("mailto:") else target
    return f"[{label}]({target})"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_leading_mention(text: str, user_id: str | None) -> tuple[str, bool]:
    """The text without a leading mention of `user_id`, and whether there was one."""
    if user_id:
        match = _MENTION.match(text.lstrip())
        if match and match.group(1) == user_id:
            return text.lstrip()[match.end() :].lstrip(" \t:,"), True
    return text, False


def user_from_mention(text: str) -> UserRef | None:
    """`<@U123>` or `<@U123|name>` as a user; anything else is not a Slack mention."""
    match = _MENTION.fullmatch(text.strip())
    if match is None:
        return None
    return UserRef(PLATFORM, match.group(1), match.group(2) or None)


def blocks(mrkdwn: str, actions: Sequence[Action]) -> list[dict[str, Any]]:
    """A message with buttons as Block Kit: the (already converted) text in `section` blocks of
    at most `SECTION_CHARS` each, then `actions` blocks of buttons whose `value` is the command
    each stands for and whose `action_id` (`convener:<n>`) is unique within the message. A
    command too long for a button is left out (the text already says what to type)."""
    buttons = []
    for number, action in enumerate(actions):
        if not action.command.strip() or len(action.command) > VALUE_CHARS:
            log.warning("Slack: no button for a command of %d characters (at most %d)",
                        len(action.command), VALUE_CHARS)  # fmt: skip
            continue
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": _label(action), "emoji": True},
                "action_id": f"{ACTION_PREFIX}{number}",
                "value": action.command,
            }
        )
    rows = [
        {"type": "actions", "elements": buttons[start : start + BUTTONS_PER_BLOCK]}
        for start in range(0, len(buttons), BUTTONS_PER_BLOCK)
    ]
    sections = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in split_text(mrkdwn, SECTION_CHARS)
    ]
    return sections[: max(MAX_BLOCKS - len(rows), 0)] + rows[:MAX_BLOCKS]


def _label(action: Action) -> str:
    label = " ".join((action.label or action.command).split())
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


_FENCE_MARK = "```"


def split_text(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a line break in the second half
    of a piece where there is one (else at a space, else anywhere but inside a `<...>` link or
    an `&...;` entity); a code block that a cut runs through is closed at the cut and opened
    again after it. Pieces that are only whitespace are left out."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        room = limit - len(_FENCE_MARK)  # so that an open code block can be closed
        least = max(room // 2, len(_FENCE_MARK) + 1)  # each piece moves on past a fence
        cut = rest.rfind("\n", least, room + 1)
        if cut < 0:
            cut = rest.rfind(" ", least, room + 1)
        if cut < 0:
            cut = _safe_cut(rest, least, room)
            piece, rest = rest[:cut], rest[cut:]
        else:  # the line break or space itself goes
            piece, rest = rest[:cut], rest[cut + 1 :].lstrip("\n")
        if piece.count(_FENCE_MARK) % 2:  # close the code block, and open it again
            piece += _FENCE_MARK
            if rest.startswith(_FENCE_MARK):
                rest = rest.removeprefix(_FENCE_MARK)
            else:
                rest = _FENCE_MARK + rest
        if piece.strip():
            pieces.append(piece)
    if rest.strip():
        pieces.append(rest)
    return pieces


def _safe_cut(text: str, least: int, at: int) -> int:
    """Where to cut `text`, at `at` or a little before (not before `least`), without splitting
    a `<...>` link or an `&...;` entity."""
    opened = text.rfind("<", least, at)
    if opened >= 0 and text.rfind(">", opened, at) < 0:
        return opened
    amp = text.rfind("&", max(at - 8, least), at)
    if amp >= 0 and ";" not in text[amp:at]:
        return amp
    return at
