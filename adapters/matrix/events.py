"""Matrix events (as nio parses them) into core events: pure functions over plain values."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

PLATFORM = "matrix"


def when(server_timestamp: int) -> datetime:
    return datetime.fromtimestamp(server_timestamp / 1000, UTC)


def thread_of(content: dict) -> str | None:
    """The thread root of a message: an `m.thread` relation, else the replied-to event."""
    relation = content.get("m.relates_to") or {}
    if relation.get("rel_type") == "m.thread" and relation.get("event_id"):
        return relation["event_id"]
    reply = relation.get("m.in_reply_to") or {}
    return reply.get("event_id")


def message(
    event_id: str, sender: UserRef, room: ChannelRef, ts: int, body: str, content: dict,
    mentions_bot: bool = False,
) -> Message:  # fmt: skip
    return Message(
        event_id, sender, room, when(ts), body, event_id, thread_of(content), mentions_bot
    )


def membership(
    event_id: str, user: UserRef, room: ChannelRef, ts: int, now: str, before: str | None
) -> Event | None:
    """A join or a leave; None for anything else (invites, profile changes)."""
    if now == "join" and before != "join":
        return MemberJoined(event_id, user, room, when(ts))
    if now in ("leave", "ban") and before == "join":
        return MemberLeft(event_id, user, room, when(ts))
    return None


def reaction(event_id: str, user: UserRef, room: ChannelRef, ts: int, content: dict):
    relation = content.get("m.relates_to") or {}
    if relation.get("rel_type") != "m.annotation" or not relation.get("event_id"):
        return None
    return ReactionAdded(
        event_id, user, room, when(ts), relation["event_id"], relation.get("key", "")
    )
