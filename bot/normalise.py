"""The boundary: every string a platform hands over is checked here before the core sees it.

Adapters build core events from their platform's payloads; `event()` then checks each field
for its type, strips control characters and cuts it to the length of the column it is stored
in. A malformed optional field is dropped with one warning line; an event whose required field
(its id, its sender, its channel) is malformed is dropped whole. Nothing here raises.

`text()` and `ident()` are the same rules for one value, for adapters that read raw payloads.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from bot.types import ChannelRef, Event, Message, Shortcut, UserRef

log = logging.getLogger(__name__)

ID_CHARS = 255
NAME_CHARS = 200
PLATFORM_CHARS = 16
TEXT_CHARS = 40_000
EMOJI_CHARS = 100

_INVISIBLE = r"\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_CONTROL = re.compile(rf"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")  # keeps tabs and newlines
_SURROGATES = re.compile(r"[\ud800-\udfff]")


class Malformed(ValueError):
    """A required field is not what the platform promised."""


def _string(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Malformed(f"{field} is {type(value).__name__}, not text")
    return str(value)


def _plain(value: Any, limit: int) -> bool:
    """Printable ASCII within the limit: nothing to clean (the common case, checked in C)."""
    return type(value) is str and len(value) <= limit and value.isascii() and value.isprintable()


def text(value: Any, limit: int = TEXT_CHARS, field: str = "text") -> str:
    """Message text: NFC, no control characters but tabs and newlines, at most `limit` chars."""
    if _plain(value, limit):
        return value
    raw = _string(value, field) or ""
    raw = _SURROGATES.sub("", unicodedata.normalize("NFC", raw[: limit * 2]))
    return _CONTROL.sub("", raw)[:limit]


_LINE_BREAKS = re.compile(r"[\t\n\r]+")


def line(value: Any, limit: int = NAME_CHARS, field: str = "name") -> str | None:
    """A one-line value (a name): no control characters, line breaks as spaces, trimmed;
    None when empty."""
    if _plain(value, limit) and value[:1] != " " and value[-1:] != " ":
        return value or None
    raw = _string(value, field)
    if raw is None:
        return None
    raw = _SURROGATES.sub("", unicodedata.normalize("NFC", raw[: limit * 2]))
    cleaned = _CONTROL.sub("", _LINE_BREAKS.sub(" ", raw))[:limit].strip()
    return cleaned or None


def ident(value: Any, field: str = "id") -> str:
    """An identifier: text without control characters, at most 255 chars, never empty."""
    cleaned = line(value, ID_CHARS, field)
    if not cleaned:
        raise Malformed(f"{field} is missing")
    return cleaned


def optional_ident(value: Any, field: str) -> str | None:
    try:
        return ident(value, field) if value not in (None, "") else None
    except Malformed:
        return None


_CHECKED: dict[int, UserRef | ChannelRef] = {}
"""References found clean, by identity (adapters that keep their references are checked once
per reference; the dict holds each one, so its id is not reused while it is here)."""
CHECKED_LIMIT = 20_000


def _clean_ref(ref: UserRef | ChannelRef, what: str, flag: str, dropped: list[str] | None):
    """A user or channel reference with its platform, id and name checked; the same object
    when nothing needs cleaning."""
    if _CHECKED.get(id(ref)) is ref:
        return ref
    if (
        _plain(ref.platform, PLATFORM_CHARS)
        and _plain(ref.id, ID_CHARS)
        and (ref.name is None or _plain(ref.name, NAME_CHARS))
        and ref.id
        and ref.id.strip() == ref.id
        and type(getattr(ref, flag)) is bool
    ):
        if len(_CHECKED) >= CHECKED_LIMIT:
            _CHECKED.clear()
        _CHECKED[id(ref)] = ref
        return ref
    return dataclasses.replace(
        ref,
        platform=ident(ref.platform, "platform")[:PLATFORM_CHARS],
        id=ident(ref.id, f"{what} id"),
        name=_soft(dropped, line, ref.name, f"{what} name"),
        **{flag: bool(getattr(ref, flag))},
    )


_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}")


def user(ref: UserRef, dropped: list[str] | None = None) -> UserRef:
    cleaned = _clean_ref(ref, "user", "is_bot", dropped)
    locale = cleaned.locale
    if locale is not None and not (isinstance(locale, str) and _LOCALE.fullmatch(locale)):
        cleaned = dataclasses.replace(cleaned, locale=None)
    return cleaned


def channel(ref: ChannelRef, dropped: list[str] | None = None) -> ChannelRef:
    return _clean_ref(ref, "channel", "is_direct", dropped)


def _soft(dropped: list[str] | None, check, value: Any, field: str, *args) -> Any:
    """`check(value)`, or None (noting the field in `dropped`) when the value is malformed."""
    try:
        return check(value, *args, field=field)
    except Malformed:
        if dropped is not None:
            dropped.append(field)
        return None


_OPTIONAL_IDS = ("message_id", "thread_id")
_TEXTS = {"text": TEXT_CHARS, "emoji": EMOJI_CHARS}


def _clean_already(raw: Event) -> bool:
    """Every field already as the core wants it (the usual case, checked cheaply)."""
    user_, channel_ = raw.user, raw.channel
    if isinstance(raw, Shortcut):  # rare, and it holds a message of its own
        return False
    if not (
        type(user_) is UserRef
        and type(channel_) is ChannelRef
        and user_.platform == channel_.platform
        and _plain(raw.event_id, ID_CHARS)
        and raw.event_id.strip() == raw.event_id != ""
        and isinstance(raw.ts, datetime)
        and raw.ts.tzinfo is not None
        and _clean_ref(user_, "user", "is_bot", None) is user_
        and _clean_ref(channel_, "channel", "is_direct", None) is channel_
    ):
        return False
    for name in _OPTIONAL_IDS:
        value = getattr(raw, name, None)
        if value is not None and not (value == "" or _plain(value, ID_CHARS)):
            return False
    for name, limit in _TEXTS.items():
        value = getattr(raw, name, "")
        if not (value == "" or _plain(value, limit)):
            return False
    return type(getattr(raw, "mentions_bot", False)) is bool and (
        getattr(raw, "reply_token", None) is None
    )


def event(raw: Event) -> Event | None:
    """The event with every field checked, or None (after one warning) if it cannot be used."""
    try:
        if _clean_already(raw):
            return raw
    except Exception:
        pass
    dropped: list[str] = []
    try:
        changes: dict[str, Any] = {
            "event_id": ident(raw.event_id, "event id"),
            "user": user(raw.user, dropped),
            "channel": channel(raw.channel, dropped),
            "ts": _when(raw.ts),
        }
        if changes["user"].platform != changes["channel"].platform:
            raise Malformed("user and channel are on different platforms")
        names = _field_names(type(raw))
        for name in _OPTIONAL_IDS:
            if name in names:
                value = getattr(raw, name)
                if value in (None, ""):
                    changes[name] = "" if name == "message_id" else None
                    continue
                checked = _soft(dropped, ident, value, name)
                changes[name] = (
                    checked if checked is not None else ("" if name == "message_id" else None)
                )
        for name, limit in _TEXTS.items():
            if name in names:
                checked = _soft(dropped, text, getattr(raw, name), name, limit)
                changes[name] = checked if checked is not None else ""
        if "mentions_bot" in names:
            changes["mentions_bot"] = raw.mentions_bot is True
        if "reply_token" in names:
            changes["reply_token"] = _soft(dropped, optional_text, raw.reply_token, "reply token")
        if isinstance(raw, Shortcut):
            changes.update(_shortcut(raw, changes["user"].platform))
    except Malformed as exc:
        log.warning(
            "dropped a malformed %s event from %s: %s",
            type(raw).__name__,
            getattr(raw.user, "platform", "?") if isinstance(raw.user, UserRef) else "?",
            exc,
        )
        return None
    except Exception as exc:  # an adapter built something that is not an event at all
        log.warning("dropped an unreadable %s event: %s", type(raw).__name__, exc)
        return None
    if dropped:
        log.warning(
            "%s %s from %s: ignored malformed %s",
            type(raw).__name__,
            changes["event_id"],
            changes["user"].platform,
            ", ".join(dropped),
        )
    changed = {k: v for k, v in changes.items() if getattr(raw, k) is not v}
    return dataclasses.replace(raw, **changed) if changed else raw


def _shortcut(raw: Shortcut, platform: str) -> dict[str, Any]:
    """A shortcut's name, and the message it was chosen on checked as an event of its own."""
    message = raw.message
    if message is not None:
        message = event(message) if isinstance(message, Message) else None
        if message is None or message.platform != platform:
            raise Malformed("the message the shortcut was chosen on is malformed")
    return {"name": ident(raw.name, "shortcut name"), "message": message}


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def optional_text(value: Any, field: str = "text") -> str | None:
    return text(value, 2000, field) or None


def _when(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise Malformed("timestamp is not a time")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
