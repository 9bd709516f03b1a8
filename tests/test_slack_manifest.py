"""The Slack app manifest (slack/manifest.yml) stays true: everything it offers is handled,
and everything the adapter handles is offered. Slash commands and the adapter's translation
of them, message shortcuts and the core's declared shortcuts, subscribed events and the event
types the adapter translates (checked on Slack's real payloads too), the bot scopes and the
Web API methods the adapter calls (found in its source, each looked up in a table taken from
Slack's method pages), interactivity and the Home tab."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import EVENT_TYPES, SHORTCUTS, translate_command, translate_event
from adapters.slack.intake import EVENTS_PATH
from adapters.slack.shortcuts import translate_shortcut
from bot.cli import every_router
from tests.slack_fake import load_payload, load_slash_command, payloads_dir

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "slack" / "manifest.yml"
ADAPTER = ROOT / "adapters" / "slack"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

METHOD_SCOPES: dict[str, frozenset[str]] = {
    # Each method's "Required scopes" for a bot token, from its page at
    # https://api.slack.com/methods/<method>; where a method needs one scope per kind of
    # conversation, every kind Convener works in (public and private channels, direct and
    # group direct messages).
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write", "chat:write.public"}),  # .public: uninvited
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "conversations.info": frozenset({"channels:read", "groups:read", "im:read", "mpim:read"}),
    "conversations.open": frozenset({"im:write", "mpim:write"}),  # direct chats, group DMs
    "conversations.replies": frozenset(
        {"channels:history", "groups:history", "im:history", "mpim:history"}
    ),
    "users.info": frozenset({"users:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "views.publish": frozenset(),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "reactions.add": frozenset({"reactions:write"}),
}
"""Methods the adapter may call, and the bot scopes each needs. `apps.connections.open`
(Socket Mode) is called with the app-level token, whose `connections:write` is granted where
that token is made, not in the manifest."""

EVENT_SCOPES: dict[str, frozenset[str]] = {
    # From each event's page, https://api.slack.com/events/<event>.
    "app_home_opened": frozenset(),
    "app_mention": frozenset({"app_mentions:read"}),
    "member_joined_channel": frozenset({"channels:read", "groups:read"}),
    "member_left_channel": frozenset({"channels:read", "groups:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "message.im": frozenset({"im:history"}),
    "message.mpim": frozenset({"mpim:history"}),
    "reaction_added": frozenset({"reactions:read"}),
}
FEATURE_SCOPES = frozenset({"commands"})  # slash commands and shortcuts


# --- reading the manifest ----------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    """The line without a `#` comment (one at the start or after a space, outside quotes)."""
    quote = None
    for n, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (n == 0 or line[n - 1] == " "):
            return line[:n].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _block(lines: list[tuple[int, str]], at: int, indent: int) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at `at` with `indent` spaces."""
    sequence = lines[at][1].startswith("- ")
    found: Any = [] if sequence else {}
    while at < len(lines) and lines[at][0] == indent:
        text = lines[at][1]
        if sequence != text.startswith("- "):
            raise ValueError(f"a mapping and a sequence mixed at {text!r}")
        if sequence:
            item = text[2:]
            if re.match(r"[\w.-]+:( |$)", item):  # an item that is a mapping
                lines[at] = (indent + 2, item)
                value, at = _block(lines, at, indent + 2)
            else:
                value, at = _scalar(item), at + 1
            found.append(value)
            continue
        key, colon, rest = text.partition(":")
        if not colon or key in found:
            raise ValueError(f"not a new `key:` at {text!r}")
        rest, at = rest.strip(), at + 1
        if rest == ">-":  # a folded scalar: its lines joined by spaces
            parts = []
            while at < len(lines) and lines[at][0] > indent:
                parts.append(lines[at][1])
                at += 1
            found[key] = " ".join(parts)
        elif rest:
            found[key] = _scalar(rest)
        elif at < len(lines) and lines[at][0] > indent:
            found[key], at = _block(lines, at, lines[at][0])
        else:
            found[key] = None
    return found, at


@cache
def _read() -> str:
    return MANIFEST.read_text(encoding="utf-8")


def manifest() -> dict[str, Any]:
    """The manifest, read strictly: block mappings and sequences, plain, quoted and folded
    scalars, comments (what it is written in; anything else fails here, not silently)."""
    lines = []
    for raw in _read().splitlines():
        line = _strip_comment(raw)
        if line.strip():
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    found, at = _block(lines, 0, 0)
    assert at == len(lines), f"unread from line {lines[at]}"
    return found


def test_the_reader_reads_the_manifest_as_written():
    read = manifest()
    assert read["_metadata"] == {"major_version": 1, "minor_version": 1}
    assert read["display_information"]["background_color"] == "#2c4a6e"
    assert read["display_information"]["long_description"].startswith("Convener helps")
    assert read["features"]["slash_commands"][1]["usage_hint"] == "<question> [: topic, ...]"
    assert read["oauth_config"]["scopes"]["bot"][0] == "app_mentions:read"
    assert read["settings"]["socket_mode_enabled"] is True


# --- slash commands and shortcuts --------------------------------------------------------------


def test_every_slash_command_is_the_adapters_and_the_reverse():
    commands = manifest()["features"]["slash_commands"]
    assert sorted(c["command"] for c in commands) == sorted(["/convener", *SHORTCUTS])
    assert all(c["should_escape"] is True for c in commands)  # mentions arrive as <@U…>
    router = every_router()
    for command, word in SHORTCUTS.items():
        assert router.is_command_word(word), f"{command} stands for no command"
        event = translate_command(load_slash_command("x y", command=command), NOW)
        assert event is not None and event.text == f"{word} x y"
    for command in commands:
        assert 0 < len(command["description"]) <= 100 and len(command["usage_hint"]) <= 1000


def test_every_message_shortcut_is_declared_by_a_feature_and_the_reverse():
    shortcuts = manifest()["features"]["shortcuts"]
    declared = every_router().shortcuts
    assert sorted(s["callback_id"] for s in shortcuts) == sorted(declared)
    for shortcut in shortcuts:
        assert shortcut["type"] == "message"  # in a message's "More actions" menu
        assert len(shortcut["name"]) <= 24 and 0 < len(shortcut["description"]) <= 150
        assert shortcut["name"] == str(declared[shortcut["callback_id"]].title)
        payload = load_payload("interactive/message_action.bolt-python.json")
        payload["callback_id"] = shortcut["callback_id"]
        event = translate_shortcut(payload, NOW)
        assert event is not None and event.name == shortcut["callback_id"]
    assert manifest()["settings"]["interactivity"]["is_enabled"] is True  # how they arrive


# --- events ------------------------------------------------------------------------------------


def subscribed() -> list[str]:
    return manifest()["settings"]["event_subscriptions"]["bot_events"]


def test_every_subscribed_event_is_translated_and_the_reverse():
    types = {event.partition(".")[0] for event in subscribed()}  # message.im is a `message`
    assert types == EVENT_TYPES
    conversations = {e.partition(".")[2] for e in subscribed() if e.startswith("message.")}
    assert conversations == {"channels", "groups", "im", "mpim"}  # every kind Convener is in


@pytest.mark.parametrize(
    "path", sorted(payloads_dir().joinpath("events").glob("*.json")), ids=lambda p: p.stem
)
def test_slacks_real_payloads_agree(path):
    """A real payload the adapter acts on is of a subscribed type, and one of a subscribed
    type is acted on (save what the adapter passes over on purpose: edits, deletions,
    notices, the Messages tab)."""
    body = load_payload(f"events/{path.name}")
    kind = body.get("event", {}).get("type")
    if translate_event(body, "W23456789") is not None:
        assert kind in EVENT_TYPES
    elif kind in EVENT_TYPES:
        event = body["event"]
        passed_over = event.get("subtype") or event.get("tab") == "messages"
        assert passed_over, f"{path.name}: a subscribed event that is not acted on"


# --- scopes ------------------------------------------------------------------------------------


def _api_methods(client_method: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The Web API methods one of slack-sdk's client methods calls, read from its source
    (`files_upload_v2` calls two, through other client methods)."""
    source = inspect.getsource(getattr(AsyncWebClient, client_method))
    found = set(re.findall(r'api_call\(\s*"([\w.]+)"', source))
    for inner in set(re.findall(r"self\.([a-z]+_\w+)\(", source)) - seen - {client_method}:
        if callable(getattr(AsyncWebClient, inner, None)):
            found |= _api_methods(inner, seen | {client_method})
    return found


def called_methods() -> set[str]:
    """Every Web API method the adapter's code calls through its client."""
    found = set()
    for path in ADAPTER.glob("*.py"):
        for name in re.findall(r"\bclient\.([a-z]+_\w+)\(", path.read_text(encoding="utf-8")):
            if callable(getattr(AsyncWebClient, name, None)):
                found |= _api_methods(name)
    return found


def test_the_scopes_cover_the_methods_the_adapter_calls_and_no_more():
    methods = called_methods()
    assert {"chat.postMessage", "conversations.replies", "files.completeUploadExternal"} <= methods
    unknown = methods - METHOD_SCOPES.keys()
    assert not unknown, f"add {sorted(unknown)} to METHOD_SCOPES, from Slack's method pages"
    declared = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = set().union(*(METHOD_SCOPES[m] for m in methods))
    events = set().union(*(EVENT_SCOPES[e] for e in subscribed()))
    assert needed | events | FEATURE_SCOPES <= declared, "a scope is missing"
    assert declared <= needed | events | FEATURE_SCOPES, "a scope nothing uses"
    assert "connections:write" not in declared  # the app-level token's, for Socket Mode


# --- the rest ----------------------------------------------------------------------------------


def test_home_tab_direct_chats_interactivity_and_one_endpoint():
    read = manifest()
    home = read["features"]["app_home"]
    assert home["home_tab_enabled"] is True and "app_home_opened" in subscribed()
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False
    assert read["settings"]["interactivity"]["is_enabled"] is True
    urls = re.findall(r"^\s*#?\s*(?:request_)?url: (\S+)", _read(), re.M)
    assert len(urls) == len(read["features"]["slash_commands"]) + 2  # events, interactivity
    assert all(url.endswith(EVENTS_PATH) for url in urls)  # commented: Socket Mode as written
    assert read["settings"]["socket_mode_enabled"] is True
