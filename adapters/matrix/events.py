"""Matrix events (their raw JSON, as the homeserver sent it) into core events: pure functions
over plain values.

Nothing here trusts the payload: any member may put anything into an event's content. A
required field that is malformed (the event id, the sender, the time, a member event's
`state_key`) raises `normalise.Malformed` and the event is dropped; a malformed optional field
(a reply's target, the body, a relation) is left out and its name noted in `dropped`, so that
the adapter logs one warning per event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.matrix.text import strip_reply_fallback
from bot import normalise
from bot.normalise import Malformed
from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

PLATFORM = "matrix"
MESSAGE, MEMBER, REACTION = "m.room.message", "m.room.member", "m.reaction"
ENCRYPTED = "m.room.encrypted"  # left so only when it could not be decrypted
KINDS = frozenset({MESSAGE, MEMBER, REACTION, ENCRYPTED})
TEXT_TYPES = frozenset({"m.text"})
THREAD_TYPES = frozenset({"m.text", "m.notice", "m.emote"})  # what a thread keeps as answers
DECRYPTED = "convener.decrypted"  # on what `decrypted` made (top-level: no member can set it)
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def when(server_timestamp: Any) -> datetime:
    """The event's time (`origin_server_ts`, milliseconds since the epoch)."""
    if isinstance(server_timestamp, bool) or not isinstance(server_timestamp, int | float):
        raise Malformed("origin_server_ts is not a number")
    if not 0 <= server_timestamp <= _MAX_MS:
        raise Malformed("origin_server_ts is out of range")
    return datetime.fromtimestamp(server_timestamp / 1000, UTC)


def required_id(source: dict, key: str) -> str:
    """A required identifier of the event (`event_id`, `sender`, `state_key`)."""
    return normalise.ident(source.get(key), key)


def optional_id(mapping: dict, key: str, dropped: list[str], field: str) -> str | None:
    """An identifier the event can do without: None when absent; when malformed, None too,
    with `field` noted in `dropped`."""
    value = mapping.get(key)
    if value is None or value == "":
        return None
    checked = normalise.optional_ident(value, field)
    if checked is None:
        dropped.append(field)
    return checked


def content_of(source: dict, dropped: list[str]) -> dict:
    content = source.get("content")
    if content is None:
        return {}
    if not isinstance(content, dict):
        dropped.append("content")
        return {}
    return content


def relation(content: dict, dropped: list[str]) -> dict:
    """`m.relates_to`, or {} when there is none or it is not an object."""
    value = content.get("m.relates_to")
    if value is None:
        return {}
    if not isinstance(value, dict):
        dropped.append("m.relates_to")
        return {}
    return value


def is_edit(relates_to: dict) -> bool:
    return relates_to.get("rel_type") == "m.replace"


def thread_of(relates_to: dict, dropped: list[str]) -> str | None:
    """The thread root of a message: an `m.thread` relation, else the replied-to event."""
    if relates_to.get("rel_type") == "m.thread":
        root = optional_id(relates_to, "event_id", dropped, "m.relates_to.event_id")
        if root:
            return root
    reply = relates_to.get("m.in_reply_to")
    if reply is None:
        return None
    if not isinstance(reply, dict):
        dropped.append("m.relates_to.m.in_reply_to")
        return None
    return optional_id(reply, "event_id", dropped, "m.relates_to.m.in_reply_to.event_id")


def body_of(content: dict, dropped: list[str]) -> str:
    """The message text; "" (noted) when the body is not a string."""
    body = content.get("body")
    if body is None:
        return ""
    if not isinstance(body, str):
        dropped.append("body")
        return ""
    return normalise.text(body, field="body")


def is_text_message(content: dict) -> bool:
    msgtype = content.get("msgtype")
    return isinstance(msgtype, str) and msgtype in TEXT_TYPES


def message(
    event_id: str, sender: UserRef, room: ChannelRef, ts: datetime, body: str,
    thread_id: str | None, mentions_bot: bool = False,
) -> Message:  # fmt: skip
    return Message(event_id, sender, room, ts, body, event_id, thread_id, mentions_bot)


def memberships(source: dict, content: dict, dropped: list[str]) -> tuple[str, str | None]:
    """(membership now, membership before) of a member event; the current one is required."""
    now = content.get("membership")
    if not isinstance(now, str) or not now:
        raise Malformed("membership is missing")
    unsigned = source.get("unsigned")
    previous = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    if previous is None:
        previous = source.get("prev_content")
    if previous is None:
        return now, None
    if not isinstance(previous, dict):
        dropped.append("prev_content")
        return now, None
    before = previous.get("membership")
    if before is not None and not isinstance(before, str):
        dropped.append("prev_content.membership")
        before = None
    return now, before


def membership(
    event_id: str, user: UserRef, room: ChannelRef, ts: datetime, now: str, before: str | None
) -> Event | None:
    """A join or a leave; None for anything else (invites, profile changes)."""
    if now == "join" and before != "join":
        return MemberJoined(event_id, user, room, ts)
    if now in ("leave", "ban") and before == "join":
        return MemberLeft(event_id, user, room, ts)
    return None


def reaction(
    event_id: str, user: UserRef, room: ChannelRef, ts: datetime, content: dict,
    dropped: list[str],
) -> ReactionAdded | None:  # fmt: skip
    """A reaction (an `m.annotation`); its relation and target are required."""
    relates_to = content.get("m.relates_to")
    if not isinstance(relates_to, dict):
        raise Malformed("m.relates_to is not an object")
    if relates_to.get("rel_type") != "m.annotation":
        return None
    target = normalise.ident(relates_to.get("event_id"), "m.relates_to.event_id")
    key = relates_to.get("key")
    if key is not None and not isinstance(key, str):
        dropped.append("m.relates_to.key")
        key = None
    emoji = normalise.text(key or "", normalise.EMOJI_CHARS, "m.relates_to.key")
    return ReactionAdded(event_id, user, room, ts, target, emoji)


def name(value: Any) -> str | None:
    """A display name as the core stores it (one line, no control characters, cut), or None
    when there is none or it is not text."""
    if not isinstance(value, str):
        return None
    try:
        return normalise.line(value, normalise.NAME_CHARS, "display name")
    except Malformed:
        return None


# Threads as they stand now -----------------------------------------------------------------


def is_redacted(source: dict) -> bool:
    """A redacted event: its content stripped (`unsigned.redacted_because` says by whom)."""
    unsigned = source.get("unsigned")
    if isinstance(unsigned, dict) and unsigned.get("redacted_because") is not None:
        return True
    return not source.get("content")


def bundled_edit(source: dict) -> dict | None:
    """The latest edit the homeserver bundled with the event (`unsigned.m.relations.m.replace`,
    spec: server-side aggregation of `m.replace`): a whole event since spec v1.7, only its
    `event_id`, `sender` and `origin_server_ts` before; in an encrypted room, still encrypted.
    None when nothing is bundled."""
    unsigned = source.get("unsigned")
    relations = unsigned.get("m.relations") if isinstance(unsigned, dict) else None
    edit = relations.get("m.replace") if isinstance(relations, dict) else None
    return edit if isinstance(edit, dict) else None


def needs_lookup(edit: dict) -> bool:
    """A bundled edit that does not say what it replaces the text with: only its id (a
    homeserver before spec v1.7), or still encrypted (its room key unknown). The edits are
    then asked for (`/relations/{event}/m.replace`)."""
    return not isinstance(edit.get("content"), dict) or edit.get("type") == ENCRYPTED


def decrypted(envelope: dict, payload: dict) -> dict | None:
    """An encrypted event as its sender wrote it: the decrypted payload's `type` and
    `content`, all else from the `envelope` the homeserver sent, `unsigned` included (nio's
    decrypted event drops it, and with it the bundled edit). The relation is the envelope's
    cleartext `m.relates_to`, as the spec has it: one inside the payload is ignored. Marked
    `DECRYPTED`, so that an edit is held to its original's encryption. None when the payload
    has no type or no content."""
    kind, content = payload.get("type"), payload.get("content")
    if not isinstance(kind, str) or not isinstance(content, dict):
        return None
    content = {key: value for key, value in content.items() if key != "m.relates_to"}
    outside = envelope.get("content")
    relates_to = outside.get("m.relates_to") if isinstance(outside, dict) else None
    if relates_to is not None:
        content["m.relates_to"] = relates_to
    return {**envelope, "type": kind, "content": content, DECRYPTED: True}


def new_content(original: dict, edit: dict) -> dict | None:
    """The `m.new_content` of `edit` if it is a valid edit of `original` (spec: validity of
    replacement events: the same sender and type, before and after decryption, an `m.replace`
    of that event, neither a state event, not redacted), else None. An edit still encrypted
    is not valid: what it says is unknown."""
    content = edit.get("content")
    if not isinstance(content, dict) or is_redacted(edit):
        return None
    relates_to = content.get("m.relates_to")
    replaced = content.get("m.new_content")
    if not (
        isinstance(relates_to, dict)
        and is_edit(relates_to)
        and relates_to.get("event_id") == original.get("event_id")
        and edit.get("sender") == original.get("sender")
        and edit.get("type") == original.get("type") != ENCRYPTED
        and (edit.get(DECRYPTED) is True) == (original.get(DECRYPTED) is True)
        and "state_key" not in edit
        and "state_key" not in original
        and isinstance(replaced, dict)
    ):
        return None
    return replaced


def latest_edit(original: dict, edits: list[dict]) -> dict | None:
    """The `m.new_content` of the latest valid edit among `edits` (the greatest
    `origin_server_ts`, ties broken by the greater event id, as the spec orders them)."""
    best: tuple[Any, str] | None = None
    chosen: dict | None = None
    for edit in edits:
        replaced = new_content(original, edit)
        ts, event_id = edit.get("origin_server_ts"), edit.get("event_id")
        if replaced is None or isinstance(ts, bool) or not isinstance(ts, int | float):
            continue
        key = (ts, event_id if isinstance(event_id, str) else "")
        if best is None or key > best:
            best, chosen = key, replaced
    return chosen


def is_thread_text(content: dict) -> bool:
    msgtype = content.get("msgtype")
    return isinstance(msgtype, str) and msgtype in THREAD_TYPES


def current_text(content: dict, replaced: dict | None, dropped: list[str]) -> str:
    """The text of a message as it stands: the latest edit's, else the original's without its
    reply fallback (an edit's `m.new_content` carries none), through `normalise.text`."""
    if replaced is not None:
        return body_of(replaced, dropped)
    body = content.get("body")
    if isinstance(body, str) and isinstance(relation(content, []).get("m.in_reply_to"), dict):
        content = {**content, "body": strip_reply_fallback(body)}
    return body_of(content, dropped)
