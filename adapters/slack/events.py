"""Slack's payloads as core events: pure functions over the dicts Slack delivers.

Dedupe keys: Events API events keep the envelope's `event_id` (a retry carries the same one),
except messages and reactions, keyed by what they are so that an export of the same history
matches them (`message_key`, `reaction_key`). Slack sends a `message` *and* an
`app_mention` event, with different `event_id`s, for one message that mentions the bot;
both translate to the same `Message` keyed by the message itself (`msg:<channel>:<ts>`), so
whichever arrives first is handled and the other is a duplicate, in one process or across
replicas. Slash commands have no event id: their `trigger_id` is unique per invocation, and
so is a button click's (a `block_actions` payload Slack delivers again carries the same one).

The boundary: nothing here raises, whatever the payload holds. A malformed optional field
(a `thread_ts` that is an object, a profile name that is a list) is left out; an event whose
required field (its id, sender, channel or timestamp) is malformed is dropped. Either way
with one warning line.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from adapters.slack.text import ACTION_PREFIX, PLATFORM, from_slack, strip_leading_mention
from bot import normalise
from bot.normalise import Malformed
from bot.types import (
    ChannelRef,
    Event,
    HomeOpened,
    MemberJoined,
    MemberLeft,
    Message,
    ReactionAdded,
    SlashCommand,
    ThreadMessage,
    UserRef,
)

log = logging.getLogger(__name__)

SHORTCUTS = {"/ask": "ask", "/prompt": "prompt", "/report": "report", "/expertise": "expertise"}
"""Slash commands that stand for a command word; any other command (`/convener`) is the
whole command line."""

PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
"""Message subtypes that are something a person posted. Edits (`message_changed`),
deletions (`message_deleted`), `message_replied` and the join/leave/topic notices are not
new activity (joins arrive as `member_joined_channel`)."""

_NOT_A_CHANNEL_NAME = frozenset({"directmessage", "privategroup"})

EVENT_TYPES = frozenset({
    "message", "app_mention", "member_joined_channel", "member_left_channel",
    "reaction_added", "app_home_opened",
})  # fmt: skip
"""The Events API event types `translate_event` acts on (any other is not looked at): the
app manifest subscribes to each of them and to nothing else (tests/test_slack_manifest.py)."""


def parse_ts(value: Any, default: datetime | None = None) -> datetime:
    """A Slack timestamp (`"1610261659.001400"`, or an `event_time` integer) as aware UTC."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            pass
    return default or datetime.now(UTC)


def channel_ref(channel_id: str, channel_type: Any = None, name: str | None = None) -> ChannelRef:
    """A Slack channel: direct when it is an `im` (ids of direct chats start with D)."""
    if isinstance(channel_type, str) and channel_type:
        is_direct = channel_type == "im"
    else:
        is_direct = channel_id.startswith("D")
    return ChannelRef(PLATFORM, channel_id, name, is_direct=is_direct)


def _ident(value: Any, field: str) -> str:
    """An id Slack sends as a string (a number or an object in its place is malformed)."""
    if value is not None and not isinstance(value, str):
        raise Malformed(f"{field} is {type(value).__name__}, not text")
    return normalise.ident(value, field)


class _Fields:
    """Reads one payload's fields, noting the optional ones it had to leave out."""

    def __init__(self) -> None:
        self.dropped: list[str] = []

    def optional_ident(self, value: Any, field: str) -> str | None:
        if value is None or value == "":
            return None
        checked = normalise.optional_ident(value, field) if isinstance(value, str) else None
        if checked is None:
            self.dropped.append(field)
        return checked

    def line(self, value: Any, field: str, limit: int = normalise.NAME_CHARS) -> str | None:
        try:
            return normalise.line(value, limit, field)
        except Malformed:
            self.dropped.append(field)
            return None

    def text(self, value: Any, field: str = "text") -> str:
        try:
            return normalise.text(value, field=field)
        except Malformed:
            self.dropped.append(field)
            return ""

    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.dropped.append(field)
            return {}
        return value

    def warn(self, kind: str, event_id: str) -> None:
        if self.dropped:
            log.warning("Slack %s %s: ignored malformed %s", kind, event_id,
                        ", ".join(self.dropped))  # fmt: skip


def _dropped(kind: Any, error: Exception) -> None:
    kind = kind if isinstance(kind, str) else type(kind).__name__
    log.warning("Slack: dropped a malformed %s event: %s", kind[:50], str(error)[:200])


def _hashable(value: Any) -> Any:
    """The value if it can be looked up in a set (a subtype that is an object cannot)."""
    return value if isinstance(value, str | None) else object()


def translate_event(body: Any, bot_user_id: str | None = None) -> Event | None:
    """The core event an Events API body stands for, or None if it is not one Convener acts
    on (or it is malformed). `bot_user_id` is the bot's own user id, whose leading mention
    addresses the bot. Never raises."""
    if not isinstance(body, dict):
        return None
    event = body.get("event")
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        return None
    try:
        if kind in ("message", "app_mention"):
            return _message(body, event, bot_user_id)
        if kind in ("member_joined_channel", "member_left_channel"):
            return _membership(body, event, kind)
        if kind == "reaction_added":
            return _reaction(body, event)
        if kind == "app_home_opened":
            return _home_opened(body, event)
    except Malformed as exc:
        _dropped(kind, exc)
    except Exception as exc:  # a payload shaped like nothing Slack documents
        _dropped(kind, exc)
    return None


def _home_opened(body: dict[str, Any], event: dict[str, Any]) -> HomeOpened | None:
    """The member opened Convener's Home tab (sent at every visit, also for the Messages
    tab, `tab: messages`, which is not acted on); `channel` is their direct chat with the
    bot. https://api.slack.com/events/app_home_opened"""
    if event.get("tab") != "home":
        return None
    return HomeOpened(
        _ident(body.get("event_id"), "event_id"),
        UserRef(PLATFORM, _ident(event.get("user"), "user")),
        channel_ref(_ident(event.get("channel"), "channel"), "im"),
        parse_ts(event.get("event_ts"), parse_ts(body.get("event_time"))),
    )


def _membership(body: dict[str, Any], event: dict[str, Any], kind: str) -> Event:
    cls = MemberJoined if kind == "member_joined_channel" else MemberLeft
    return cls(
        _ident(body.get("event_id"), "event_id"),
        UserRef(PLATFORM, _ident(event.get("user"), "user")),
        channel_ref(_ident(event.get("channel"), "channel")),
        parse_ts(event.get("event_ts") or body.get("event_time")),
    )


def _reaction(body: dict[str, Any], event: dict[str, Any]) -> ReactionAdded | None:
    fields = _Fields()
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return None
    event_id = _ident(body.get("event_id"), "event_id")
    reaction = normalise.line(event.get("reaction"), normalise.EMOJI_CHARS * 2, "reaction")
    if not reaction:
        raise Malformed("reaction is missing")
    user = _ident(event.get("user"), "user")
    channel = _ident(item.get("channel"), "item.channel")
    message_id = fields.optional_ident(item.get("ts"), "item.ts") or ""
    translated = ReactionAdded(
        reaction_key(channel, message_id, user, reaction) if message_id else event_id,
        UserRef(PLATFORM, user),
        channel_ref(channel),
        parse_ts(event.get("event_ts") or body.get("event_time")),
        message_id=message_id,
        emoji=reaction.split("::", 1)[0],
    )
    fields.warn("reaction_added", event_id)
    return translated


def message_key(channel: str, ts: str) -> str:
    """A message's event id: the message itself, whichever delivery (or export) carried it."""
    return f"msg:{channel}:{ts}"


def reaction_key(channel: str, ts: str, user: str, reaction: str) -> str:
    """A reaction's event id: who reacted with what to which message. An export lists
    reactions without the delivery's id, so both are keyed by what the reaction is (a
    reaction taken away and given again is one)."""
    return f"react:{channel}:{ts}:{user}:{reaction}"


def _message(body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None):
    subtype = _hashable(event.get("subtype"))
    if subtype not in PERSON_SUBTYPES and subtype != "bot_message":
        return None
    fields = _Fields()
    channel = _ident(event.get("channel"), "channel")
    ts = _ident(event.get("ts"), "ts")
    is_bot = subtype == "bot_message" or bool(event.get("bot_id"))
    user_id = _ident(event.get("user") or event.get("bot_id"), "user")
    raw, mentions_bot = strip_leading_mention(fields.text(event.get("text")), bot_user_id)
    thread_ts = fields.optional_ident(event.get("thread_ts"), "thread_ts")
    event_id = message_key(channel, ts)
    translated = Message(
        event_id,
        UserRef(PLATFORM, user_id, _author_name(fields, event, is_bot), is_bot=is_bot),
        channel_ref(channel, event.get("channel_type")),
        parse_ts(ts, parse_ts(body.get("event_time"))),
        text=from_slack(raw),
        message_id=ts,
        thread_id=thread_ts if thread_ts and thread_ts != ts else None,
        mentions_bot=mentions_bot,
    )
    fields.warn("message", event_id)
    return translated


def translate_message(
    message: Any, channel_id: str, bot_user_id: str | None = None
) -> Message | None:
    """A message object Slack nests in another payload (the `message` a shortcut was chosen
    on, in `channel_id`) as a `Message`, read as `translate_event` reads a `message` event;
    None for what is not a post (a join notice...) or is malformed (one warning line).
    Never raises."""
    if not isinstance(message, dict):
        return None
    try:
        return _message({}, {**message, "channel": channel_id}, bot_user_id)
    except Exception as exc:  # Malformed, or shaped like nothing Slack documents
        _dropped("message", exc)
        return None


def translate_reply(
    message: Any, root_id: str, bot_user_id: str | None = None
) -> ThreadMessage | None:
    """One message of a `conversations.replies` answer as a `ThreadMessage`, or None for the
    thread's root (`ts == root_id`), for what is not a post (a `tombstone` left where a root
    was deleted, a join notice...) and for a malformed one (one warning line). The text is
    what the message says now (Slack returns edited text; deleted replies are absent), from
    Slack's markup as in `translate_event`. A bot's message (`bot_id`, or subtype
    `bot_message`, or `bot_user_id`'s own) has `is_bot`; a person's name is there only when
    the message carries a `user_profile` (the adapter looks the rest up). Never raises."""
    if not isinstance(message, dict):
        return None
    subtype = _hashable(message.get("subtype"))
    if subtype not in PERSON_SUBTYPES and subtype != "bot_message":
        return None
    try:
        ts = _ident(message.get("ts"), "ts")
        if ts == root_id:
            return None
        fields = _Fields()
        user_id = _ident(message.get("user") or message.get("bot_id"), "user")
        is_bot = subtype == "bot_message" or bool(message.get("bot_id")) or user_id == bot_user_id
        text = normalise.text(from_slack(fields.text(message.get("text"))))
        reply = ThreadMessage(
            ts,
            UserRef(PLATFORM, user_id, _author_name(fields, message, is_bot), is_bot=is_bot),
            text,
            parse_ts(ts),
        )
    except Exception as exc:  # Malformed, or a message shaped like nothing Slack documents
        log.warning("Slack: dropped a malformed reply in thread %.50s: %s", root_id,
                    str(exc)[:200])  # fmt: skip
        return None
    fields.warn("reply", ts)
    return reply


def _author_name(fields: _Fields, event: dict[str, Any], is_bot: bool) -> str | None:
    if is_bot:
        names = [
            (event.get("username"), "username"),
            (fields.mapping(event.get("bot_profile"), "bot_profile").get("name"), "bot name"),
        ]
    else:
        profile = fields.mapping(event.get("user_profile"), "user_profile")
        names = [(profile.get(key), f"user_profile.{key}") for key in
                 ("display_name", "real_name", "name")]  # fmt: skip
    for value, field in names:
        name = fields.line(value, field)
        if name:
            return name
    return None


def translate_command(form: Any, now: datetime) -> SlashCommand | None:
    """A slash command's form fields as a `SlashCommand`: `/report x` is `report x`, `/convener x`
    is `x`. The `response_url` becomes the reply token. None (after one warning) when a
    required field is missing or malformed. Never raises."""
    if not isinstance(form, dict):
        return None
    try:
        return _command(form, now)
    except Exception as exc:
        log.warning("Slack: dropped a malformed slash command: %s", str(exc)[:200])
        return None


def _command(form: dict[str, Any], now: datetime) -> SlashCommand:
    fields = _Fields()
    user_id = _ident(form.get("user_id"), "user_id")
    channel_id = _ident(form.get("channel_id"), "channel_id")
    trigger = _ident(form.get("trigger_id"), "trigger_id")
    text = from_slack(fields.text(form.get("text"))).strip()
    command = fields.line(form.get("command"), "command") or ""
    word = SHORTCUTS.get(command.lower())
    if word:
        text = f"{word} {text}".strip()
    name = fields.line(form.get("channel_name"), "channel_name")
    channel = channel_ref(
        channel_id, name=f"#{name}" if name and name not in _NOT_A_CHANNEL_NAME else None
    )
    response_url = fields.line(form.get("response_url"), "response_url", 2000)
    event_id = f"cmd:{trigger}"
    translated = SlashCommand(
        event_id,
        UserRef(PLATFORM, user_id, fields.line(form.get("user_name"), "user_name")),
        channel,
        now,
        text=text,
        reply_token=response_url,
    )
    fields.warn("slash command", event_id)
    return translated


def convener_action(payload: Any) -> dict[str, Any] | None:
    """The button a `block_actions` payload reports, if it is one of Convener's (its
    `action_id` starts with `ACTION_PREFIX`); None for anything else. Never raises."""
    if not isinstance(payload, dict):
        return None
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict):
        return None
    action_id = action.get("action_id")
    if not isinstance(action_id, str) or not action_id.startswith(ACTION_PREFIX):
        return None
    return action


def translate_action(payload: Any, now: datetime) -> SlashCommand | None:
    """A click on one of Convener's buttons (a `block_actions` payload) as the command the
    button stands for, typed by whoever pressed it: the button's `value` is the command, the
    payload's `response_url` the reply token (so the answer is ephemeral to the presser).
    None (after one warning) when it is not such a click or a required field is missing or
    malformed. Never raises."""
    try:
        return _action(payload, now)
    except Exception as exc:
        log.warning("Slack: dropped a malformed button click: %s", str(exc)[:200])
        return None


def _clicked_in(
    fields: _Fields, where: dict[str, Any], container: dict[str, Any], user_id: str
) -> ChannelRef:
    """Where a click happened. A button on a view (the Home tab: `container.type` `view`)
    has no channel: the answer goes to the presser's direct chat, named here by their user
    id (Slack posts there; the adapter finds the chat's own id)."""
    channel_id = where.get("id") or container.get("channel_id")
    if not channel_id and container.get("type") == "view":
        return ChannelRef(PLATFORM, user_id, None, is_direct=True)
    channel_id = _ident(channel_id, "channel.id")
    name = fields.line(where.get("name"), "channel.name")
    return channel_ref(
        channel_id, name=f"#{name}" if name and name not in _NOT_A_CHANNEL_NAME else None
    )


def _action(payload: Any, now: datetime) -> SlashCommand:
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise Malformed("not a block_actions payload")
    action = convener_action(payload)
    if action is None:
        raise Malformed("no Convener button in actions")
    fields = _Fields()
    person = payload.get("user")
    if not isinstance(person, dict):
        raise Malformed("user is missing")
    user_id = _ident(person.get("id"), "user.id")
    where = fields.mapping(payload.get("channel"), "channel")
    container = fields.mapping(payload.get("container"), "container")
    channel = _clicked_in(fields, where, container, user_id)
    command = fields.text(action.get("value"), "actions[0].value").strip()
    if not command:
        raise Malformed("the button has no command (value)")
    trigger = fields.optional_ident(payload.get("trigger_id"), "trigger_id")
    if trigger is None:  # documented as always present; the click's time is as unique
        action_ts = _ident(action.get("action_ts"), "action_ts")
        trigger = f"{user_id}:{action_ts}"
    user_name = fields.line(person.get("name"), "user.name") or fields.line(
        person.get("username"), "user.username"
    )
    event_id = f"act:{trigger}"
    translated = SlashCommand(
        event_id,
        UserRef(PLATFORM, user_id, user_name),
        channel,
        now,
        text=command,
        reply_token=fields.line(payload.get("response_url"), "response_url", 2000),
    )
    fields.warn("button click", event_id)
    return translated
