"""Text between the core and Slack: Markdown out as mrkdwn, Slack's message markup in as
plain text, and Slack's user mentions."""

from __future__ import annotations

import re

from bot.types import UserRef

PLATFORM = "slack"

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

    text = _FENCE.sub(lambda m: keep(f"```{escape(m.group(1))}```"), markdown)
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
