"""Slack's payloads as core events: pure functions over the dicts Slack delivers.

Dedupe keys: Events API events keep the envelope's `event_id` (a retry carries the same one),
except messages. Slack sends a `message` *and* an `app_mention` event, with different
`event_id`s, for one message that mentions the bot; both translate to the same `Message`
keyed by the message itself (`msg:<channel>:<ts>`), so whichever arrives first is handled
and the other is a duplicate, in one process or across replicas. Slash commands have no
event id: their `trigger_id` is unique per invocation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.slack.text import PLATFORM, from_slack, strip_leading_mention
from bot.types import (
    ChannelRef,
    Event,
    MemberJoined,
    MemberLeft,
    Message,
    ReactionAdded,
    SlashCommand,
    UserRef,
)

SHORTCUTS = {"/ask": "ask", "/prompt": "prompt", "/report": "report", "/expertise": "expertise"}
"""Slash commands that stand for a command word; any other command (`/convener`) is the
whole command line."""

PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
"""Message subtypes that are something a person posted. Edits (`message_changed`),
deletions (`message_deleted`), `message_replied` and the join/leave/topic notices are not
new activity (joins arrive as `member_joined_channel`)."""

_NOT_A_CHANNEL_NAME = frozenset({"directmessage", "privategroup"})


def parse_ts(value: Any, default: datetime | None = None) -> datetime:
    """A Slack timestamp (`"1610261659.001400"`, or an `event_time` integer) as aware UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return default or datetime.now(UTC)


def channel_ref(channel_id: str, channel_type: str | None = None, name: str | None = None):
    """A Slack channel: direct when it is an `im` (ids of direct chats start with D)."""
    is_direct = channel_type == "im" if channel_type else channel_id.startswith("D")
    return ChannelRef(PLATFORM, channel_id, name, is_direct=is_direct)


def translate_event(body: dict[str, Any], bot_user_id: str | None = None) -> Event | None:
    """The core event an Events API body stands for, or None if it is not one Convener acts
    on. `bot_user_id` is the bot's own user id, whose leading mention addresses the bot."""
    event = body.get("event")
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if kind in ("message", "app_mention"):
        return _message(body, event, bot_user_id)
    if kind in ("member_joined_channel", "member_left_channel"):
        if not event.get("user") or not event.get("channel") or not body.get("event_id"):
            return None
        cls = MemberJoined if kind == "member_joined_channel" else MemberLeft
        return cls(
            body["event_id"],
            UserRef(PLATFORM, event["user"]),
            channel_ref(event["channel"]),
            parse_ts(event.get("event_ts") or body.get("event_time")),
        )
    if kind == "reaction_added":
        item = event.get("item") or {}
        if item.get("type") != "message" or not item.get("channel") or not event.get("user"):
            return None
        if not body.get("event_id"):
            return None
        return ReactionAdded(
            body["event_id"],
            UserRef(PLATFORM, event["user"]),
            channel_ref(item["channel"]),
            parse_ts(event.get("event_ts") or body.get("event_time")),
            message_id=item.get("ts", ""),
            emoji=str(event.get("reaction", "")).split("::", 1)[0],
        )
    return None


def _message(body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None):
    subtype = event.get("subtype")
    if subtype not in PERSON_SUBTYPES and subtype != "bot_message":
        return None
    channel, ts = event.get("channel"), event.get("ts")
    is_bot = subtype == "bot_message" or bool(event.get("bot_id"))
    user_id = event.get("user") or event.get("bot_id")
    if not channel or not ts or not user_id:
        return None
    raw, mentions_bot = strip_leading_mention(event.get("text") or "", bot_user_id)
    thread_ts = event.get("thread_ts")
    return Message(
        f"msg:{channel}:{ts}",
        UserRef(PLATFORM, user_id, _author_name(event, is_bot), is_bot=is_bot),
        channel_ref(channel, event.get("channel_type")),
        parse_ts(ts, parse_ts(body.get("event_time"))),
        text=from_slack(raw),
        message_id=ts,
        thread_id=thread_ts if thread_ts and thread_ts != ts else None,
        mentions_bot=mentions_bot,
    )


def _author_name(event: dict[str, Any], is_bot: bool) -> str | None:
    if is_bot:
        return event.get("username") or (event.get("bot_profile") or {}).get("name") or None
    profile = event.get("user_profile") or {}
    return profile.get("display_name") or profile.get("real_name") or profile.get("name") or None


def translate_command(form: dict[str, Any], now: datetime) -> SlashCommand | None:
    """A slash command's form fields as a `SlashCommand`: `/ask x` is `ask x`, `/convener x`
    is `x`. The `response_url` becomes the reply token."""
    user_id, channel_id = form.get("user_id"), form.get("channel_id")
    trigger = form.get("trigger_id")
    if not user_id or not channel_id or not trigger:
        return None
    text = from_slack(form.get("text") or "").strip()
    word = SHORTCUTS.get(str(form.get("command", "")).lower())
    if word:
        text = f"{word} {text}".strip()
    name = form.get("channel_name")
    channel = channel_ref(
        channel_id, name=f"#{name}" if name and name not in _NOT_A_CHANNEL_NAME else None
    )
    return SlashCommand(
        f"cmd:{trigger}",
        UserRef(PLATFORM, user_id, form.get("user_name") or None),
        channel,
        now,
        text=text,
        reply_token=form.get("response_url") or None,
    )
