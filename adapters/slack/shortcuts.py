"""Slack's message shortcuts (each message's "More actions" menu) as core `Shortcut` events.

A choice arrives as a `message_action` payload (a form field `payload` posted to
`/slack/events`, or a Socket Mode `interactive` envelope): its `callback_id` is the name of a
shortcut a feature declared (`Router.shortcut`; the app manifest lists the same ids), its
`message` the message it was chosen on, its `response_url` where the presser is answered
privately. Shape: https://api.slack.com/reference/interaction-payloads/shortcuts and
bolt-python's `tests/scenario_tests_async/test_shortcut.py` (`message_shortcut_body`).

The dedupe key is the `trigger_id`, unique per choice (Slack delivers a choice again with the
same one). Nothing here raises: a payload whose required field (its trigger, callback id,
presser or channel) is malformed is dropped with one warning line.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from adapters.slack.events import _NOT_A_CHANNEL_NAME, channel_ref, translate_message
from adapters.slack.text import PLATFORM
from bot import normalise
from bot.normalise import Malformed
from bot.types import Shortcut, UserRef

log = logging.getLogger(__name__)


def is_message_shortcut(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == "message_action"


def translate_shortcut(
    payload: Any, now: datetime, bot_user_id: str | None = None
) -> Shortcut | None:
    """A `message_action` payload as the `Shortcut` chosen by whoever chose it; the message
    it was chosen on is read as a message event is (`bot_user_id`: the bot's own id, whose
    posts are the bot's). None after one warning when a required field is malformed."""
    try:
        return _shortcut(payload, now, bot_user_id)
    except Exception as exc:
        log.warning("Slack: dropped a malformed message shortcut: %s", str(exc)[:200])
        return None


def _ident(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{field} is {type(value).__name__}, not text")
    return normalise.ident(value, field)


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{field} is missing")
    return value


def _shortcut(payload: Any, now: datetime, bot_user_id: str | None) -> Shortcut:
    if not is_message_shortcut(payload):
        raise Malformed("not a message_action payload")
    trigger = _ident(payload.get("trigger_id"), "trigger_id")
    name = _ident(payload.get("callback_id"), "callback_id")
    person = _mapping(payload.get("user"), "user")
    where = _mapping(payload.get("channel"), "channel")
    channel_id = _ident(where.get("id"), "channel.id")
    label = where.get("name")
    label = normalise.line(label, field="channel.name") if isinstance(label, str) else None
    channel = channel_ref(
        channel_id, name=f"#{label}" if label and label not in _NOT_A_CHANNEL_NAME else None
    )
    user_name = next(
        (normalise.line(person.get(key), field=f"user.{key}") for key in ("name", "username")
         if isinstance(person.get(key), str) and person.get(key)),
        None,
    )  # fmt: skip
    message = payload.get("message")
    if isinstance(message, dict) and not message.get("ts"):
        message = {**message, "ts": payload.get("message_ts")}
    response_url = payload.get("response_url")
    return Shortcut(
        f"sc:{trigger}",
        UserRef(PLATFORM, _ident(person.get("id"), "user.id"), user_name),
        channel,
        now,
        name=name,
        message=translate_message(message, channel_id, bot_user_id),
        reply_token=response_url if isinstance(response_url, str) and response_url else None,
    )
