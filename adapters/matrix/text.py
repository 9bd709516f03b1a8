"""Text on Matrix: the core's Markdown as the content of a message (HTML for `formatted_body`,
mention pills and `m.mentions`), and the mentions in what members send.

Mentions follow the spec's intentional mentions (v1.11, "User and room mentions"): a message
carries `m.mentions` always, so that a display name or `@room` in its text notifies no one, and
lists exactly the users it names with a pill (`<a href="https://matrix.to/#/@user:server">`,
as Element writes them: element-web src/editor/serialize.ts). The core names a member by
writing their user id (`@user:server`) or a Markdown link to their matrix.to address."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote

from bot.types import UserRef

PLATFORM = "matrix"
NOTICE, TEXT = "m.notice", "m.text"
HTML = "org.matrix.custom.html"
MATRIX_TO = "https://matrix.to/#/"
USER_ID = re.compile(r"@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(?::\d+)?")
_PILL = re.compile(r"https://matrix\.to/#/(@[^\s\"'>?]+)")
_NAMED = re.compile(
    r"(?<![\w@/#])@[a-z0-9._=\-/+]+:[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*(?::\d+)?"
    r"|https://matrix\.to/#/(?:@|%40)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]"
)
_MATRIX_TO_USER = re.compile(r"https://matrix\.to/#/([^?#]+)(?:\?.*)?")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?!\s)(.+?)(?<!\s)_(?!\w)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_KEPT = re.compile(r"\x00(\d+)\x00")
_FALLBACK = re.compile(r"> \*? ?<[^>\n]+>[^\n]*\n(?:>[^\n]*\n)*(?:\n|$)")
_MX_REPLY = re.compile(r"\s*<mx-reply>.*?</mx-reply>", re.S | re.I)  # first, if any
_LEADING_LINK = re.compile(r"\s*<a\s[^>]*?href=([\"'])([^\"']*)\1[^>]*>(.*?)</a>", re.S | re.I)
_PILL_CHARS = 1000  # enough for any pill: the rest of a long message is not read
_TAG = re.compile(r"<[^>]*>")


def user_of_link(url: str) -> str | None:
    """The user id a matrix.to link points at (percent-encoded or not), else None."""
    match = _MATRIX_TO_USER.fullmatch(url.strip())
    user_id = unquote(match.group(1)) if match else ""
    return user_id if USER_ID.fullmatch(user_id) else None


def render(markdown: str) -> tuple[str, list[str]]:
    """The small Markdown the core writes (bold, italic, code, links, line breaks) as HTML,
    with each user it names (by id or matrix.to link) as a pill; and those users, once each.
    Everything else is escaped, so text people typed cannot inject markup; nothing in code
    is a mention."""
    kept: list[str] = []
    users: list[str] = []

    def keep(fragment: str) -> str:
        kept.append(fragment)
        return f"\x00{len(kept) - 1}\x00"

    def named(user_id: str) -> None:
        if user_id not in users:
            users.append(user_id)

    def link(match: re.Match) -> str:
        label, url = _emphasis(match.group(1)), match.group(2)
        user_id = user_of_link(html.unescape(url))
        if user_id:
            named(user_id)
        return keep(f'<a href="{html.escape(url)}">{label}</a>')

    def pill(match: re.Match) -> str:
        found = match.group(0)
        user_id = user_of_link(html.unescape(found)) if found.startswith(MATRIX_TO) else found
        if user_id is None:
            return found
        named(user_id)
        return keep(f'<a href="{MATRIX_TO}{user_id}">{user_id}</a>')

    def restore(match: re.Match) -> str:
        return _KEPT.sub(restore, kept[int(match.group(1))])

    text = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), _escaped(markdown))
    text = _LINK.sub(link, text)
    text = _NAMED.sub(pill, text)
    text = _emphasis(text)
    return _KEPT.sub(restore, text).replace("\n", "<br>"), users


def _escaped(markdown: str) -> str:
    return html.escape(markdown.replace("\x00", ""), quote=False)  # NUL marks kept fragments


def _emphasis(text: str) -> str:
    return _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", text))


def to_html(markdown: str) -> str:
    return render(markdown)[0]


def message_content(markdown: str, sender: str, asks: bool = False) -> dict[str, Any]:
    """The content of a message of the bot's: `m.notice` (the spec's type for automated
    senders: clients mute it and other bots do not answer it), with `m.mentions` naming
    exactly the users it names but the sender, `{}` for nobody. Two kinds are `m.text`, as
    the push rule `.m.rule.suppress_notices` (first of the defaults) would silence them: a
    message that names someone (a mention in a notice notifies no one), and one that `asks`
    its reader to act (a direct message with buttons elsewhere: a question routed to an
    expert, a reminder to answer an RSVP)."""
    formatted, users = render(markdown)
    named = [user_id for user_id in users if user_id != sender]
    return {
        "msgtype": TEXT if named or asks else NOTICE,
        "body": markdown,
        "format": HTML,
        "formatted_body": formatted,
        "m.mentions": {"user_ids": named} if named else {},
    }


def user_from_mention(text: str) -> UserRef | None:
    """`@name:server`, or a matrix.to link to it (what clients put in a pill)."""
    text = text.strip()
    pill = _PILL.search(text)
    if pill:
        text = pill.group(1)
    if USER_ID.fullmatch(text):
        return UserRef(PLATFORM, text)
    return None


def mentioned_users(content: dict) -> list[str]:
    """`m.mentions.user_ids` of a message, the strings in it; [] when absent or malformed."""
    mentions = content.get("m.mentions")
    user_ids = mentions.get("user_ids") if isinstance(mentions, dict) else None
    return [u for u in user_ids if isinstance(u, str)] if isinstance(user_ids, list) else []


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


def addressed(content: dict, body: str, bot_user_id: str, bot_name: str | None) -> tuple[str, bool]:
    """The body without a leading mention of the bot, and whether the message addresses it:
    it starts with the bot's id or name, or with a pill to the bot that `m.mentions` lists
    (whatever name the pill shows), as Element sends a mention. A mention elsewhere in the
    text does not address the bot, nor does `m.mentions` alone: Element lists the sender of
    the replied-to message there (element-web src/components/views/rooms/
    SendMessageComposer.tsx, attachMentions), so every reply to the bot carries it."""
    rest, mentioned = strip_mention(body, bot_user_id, bot_name)
    if mentioned or bot_user_id not in mentioned_users(content):
        return rest, mentioned
    formatted = content.get("formatted_body")
    if content.get("format") != HTML or not isinstance(formatted, str):
        return body, False
    reply = _MX_REPLY.match(formatted)
    pill = _LEADING_LINK.match(formatted[reply.end() if reply else 0 :][:_PILL_CHARS])
    if pill is None or user_of_link(html.unescape(pill.group(2))) != bot_user_id:
        return body, False
    label = html.unescape(_TAG.sub("", pill.group(3))).strip()
    return strip_mention(body, label, None)


def strip_reply_fallback(body: str) -> str:
    """A reply's body without the quote of the replied-to message that older clients put
    first (`> <@sender:server> their text`, more `> ` lines, then an empty line)."""
    match = _FALLBACK.match(body)
    return body[match.end() :] if match else body
