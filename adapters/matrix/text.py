"""Text on Matrix: the core's Markdown as HTML for `formatted_body`, and mentions."""

from __future__ import annotations

import html
import re

from bot.types import UserRef

PLATFORM = "matrix"
USER_ID = re.compile(r"@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(?::\d+)?")
_PILL = re.compile(r"https://matrix\.to/#/(@[^\s\"'>?]+)")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?!\s)(.+?)(?<!\s)_(?!\w)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_FALLBACK = re.compile(r"> \*? ?<[^>\n]+>[^\n]*\n(?:>[^\n]*\n)*(?:\n|$)")


def to_html(markdown: str) -> str:
    """The small Markdown the core writes (bold, italic, code, links, line breaks) as HTML;
    everything else is escaped, so text people typed cannot inject markup."""
    codes: list[str] = []

    def keep(match: re.Match) -> str:
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep, html.escape(markdown, quote=False))
    text = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], text)
    return text.replace("\n", "<br>")


def user_from_mention(text: str) -> UserRef | None:
    """`@name:server`, or a matrix.to link to it (what clients put in a pill)."""
    text = text.strip()
    pill = _PILL.search(text)
    if pill:
        text = pill.group(1)
    if USER_ID.fullmatch(text):
        return UserRef(PLATFORM, text)
    return None


def strip_mention(body: str, bot_user_id: str, bot_name: str | None) -> tuple[str, bool]:
    """The body without a leading mention of the bot, and whether there was one."""
    for form in (bot_user_id, bot_name):
        if not form:
            continue
        if body.lower().startswith(form.lower()):
            rest = body[len(form) :]
            if not rest or rest[0] in " :,\t":
                return rest.lstrip(" :,\t"), True
    return body, False


def strip_reply_fallback(body: str) -> str:
    """A reply's body without the quote of the replied-to message that older clients put
    first (`> <@sender:server> their text`, more `> ` lines, then an empty line)."""
    match = _FALLBACK.match(body)
    return body[match.end() :] if match else body
