"""Property tests of the adapters' translation: whatever a platform (or a member who controls
an event's content) sends, translating it never raises, and it either yields an event the
core takes as it is or is dropped, with a warning line unless it is something Convener does
not act on by design (an edit, a notice, a reaction to a file...).

Slack: Events API bodies (messages, app mentions, reactions, joins and leaves), slash
commands, button clicks (`block_actions`) and thread replies. Matrix: timeline events
(messages, member events, reactions, redactions and other types, with any content), thread
replies with their edits, and the history before the bot's own join. The console's input
lines. Then what the translations yield, through the real core: no listener raises.

`CONVENER_FUZZ_EXAMPLES` sets the number of examples per test (100), to search longer."""

from __future__ import annotations

import asyncio
import copy
import io
import itertools
import logging
import os
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nio import Event as NioEvent
from nio import MatrixRoom

from adapters.console import ConsoleAdapter
from adapters.matrix import MatrixAdapter
from adapters.matrix import events as matrix_events
from adapters.slack.events import (
    PERSON_SUBTYPES,
    convener_action,
    translate_action,
    translate_command,
    translate_event,
    translate_reply,
)
from bot import normalise
from bot.settings import Settings
from bot.types import (
    Event,
    MemberJoined,
    MemberLeft,
    Message,
    ReactionAdded,
    SlashCommand,
    ThreadMessage,
)
from tests.harness import BotHarness
from tests.slack_fake import DELETE, load_block_actions, load_event, load_slash_command

SLACK_BOT = "W23456789"
MATRIX_BOT = "@convener:example.org"
ROOM = "!room:example.org"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=int(os.environ.get("CONVENER_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values ------------------------------------------------------------------------------------

# What any JSON field may hold (JSON has no NaN, and no integer past what a parser keeps).
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202eevil",
        "\ud800",
        "x" * 300,
        "y" * 50_000,
        "é" * 120,
        "\n\t\r",
        "&lt;&amp;&gt;",
        "<@W23456789>",
        "<@W23456789> help",
        "<!channel>",
        "<https://x.org|x>",
        "<#C1|general>",
        "!help",
        "nan",
        "inf",
        "-1",
        "1e308",
        "99999999999999999999",
        "1610261659.001400",
    ]
)


def field_values(*valid: Any) -> st.SearchStrategy:
    """A field as a platform would send it, something else, or missing (`DELETE`)."""
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        NASTY_TEXT,
        JSON_VALUES,
        st.just(DELETE),
    )


def maps(spec: dict) -> st.SearchStrategy:
    """Objects with some of these fields (a field drawn as `DELETE` is left out)."""
    return st.fixed_dictionaries({}, optional=spec).map(
        lambda d: {k: v for k, v in d.items() if v is not DELETE}
    )


def put(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value


class Records(logging.Handler):
    """The log records at `level` or above while attached."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def warnings_of(call, *args):
    """`call(*args)` and the warning lines it logged (anywhere)."""
    handler = Records(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        result = call(*args)
    finally:
        root.removeHandler(handler)
    ours = [r for r in handler.records if r.name.split(".")[0] in ("adapters", "bot")]
    return result, [r.getMessage() for r in ours]


def _same_or_cut(value: Any, cleaned: Any, limit: int = normalise.NAME_CHARS) -> bool:
    """The core took the value as it is, or only cut it to its column's length (an id that
    the adapter composed, `msg:<channel>:<ts>`, or a `#` put before a 200-character name,
    may come out longer than its parts' limits)."""
    if value == cleaned:
        return True
    return (
        isinstance(value, str)
        and isinstance(cleaned, str)
        and len(value) > len(cleaned) >= limit - 1
        and value.startswith(cleaned)
    )


def assert_clean(event: Event) -> None:
    """The core's own check takes the event as the adapter made it: nothing left to clean."""
    cleaned = normalise.event(event)
    assert cleaned is not None, event
    assert type(cleaned) is type(event)
    for name in ("event_id", "text", "message_id", "thread_id", "emoji", "reply_token"):
        limit = normalise.EMOJI_CHARS if name == "emoji" else normalise.NAME_CHARS
        assert _same_or_cut(getattr(event, name, None), getattr(cleaned, name, None), limit), name
    for ref, checked in ((event.user, cleaned.user), (event.channel, cleaned.channel)):
        assert ref.id == checked.id and ref.platform == checked.platform
        assert _same_or_cut(ref.name, checked.name), ref
    assert cleaned.ts == event.ts and event.ts.tzinfo is not None


# Slack: Events API ---------------------------------------------------------------------------

SLACK_TEMPLATES = {
    "message": "message_channel.bolt-python",
    "app_mention": "app_mention.bolt-python",
    "reaction_added": "reaction_added.bolt-python",
    "member_joined_channel": "member_joined_channel.bolt-python",
    "member_left_channel": "member_joined_channel.bolt-python",
}
SLACK_EVENT_FIELDS = {
    "type": field_values(*SLACK_TEMPLATES),
    "subtype": field_values("bot_message", "thread_broadcast", "message_changed", "file_share"),
    "user": field_values("W111", "U222", SLACK_BOT),
    "bot_id": field_values("B1"),
    "channel": field_values("C111", "D111", "G1"),
    "channel_type": field_values("channel", "im", "group", "mpim"),
    "ts": field_values("1610261659.001400", "1610261660.000100"),
    "thread_ts": field_values("1610261659.001400", "1600000000.000001"),
    "event_ts": field_values("1610261659.001400"),
    "text": field_values("hello", f"<@{SLACK_BOT}> profile city Nairobi", "what? <@W111>"),
    "user_profile": field_values({"display_name": "Ada"}, {"real_name": "Ada L"}),
    "bot_profile": field_values({"name": "other-app"}),
    "username": field_values("classic-bot"),
    "reaction": field_values("white_check_mark", "+1::skin-tone-2", "::", "raised_hand"),
    "item": field_values(
        {"type": "message", "channel": "C111", "ts": "1599529504.000400"},
        {"type": "file", "file": "F1"},
        {"type": "message", "channel": {"id": "C1"}, "ts": 5},
    ),
}
SLACK_BODY_FIELDS = {
    "event_id": field_values("Ev111", "Ev222"),
    "event_time": field_values(1610261659, 0, -1),
}


def slack_acted_on(event: dict) -> bool:
    """Whether Convener acts on this inner event at all (what it leaves out by design is
    dropped without a warning: edits, notices, reactions to files, other event types)."""
    kind = event.get("type")
    if kind in ("message", "app_mention"):
        subtype = event.get("subtype")
        return isinstance(subtype, str | None) and (
            subtype in PERSON_SUBTYPES or subtype == "bot_message"
        )
    if kind == "reaction_added":
        item = event.get("item")
        return isinstance(item, dict) and item.get("type") == "message"
    return kind in ("member_joined_channel", "member_left_channel")


SLACK_TYPES = {
    "message": Message,
    "app_mention": Message,
    "reaction_added": ReactionAdded,
    "member_joined_channel": MemberJoined,
    "member_left_channel": MemberLeft,
}


@FUZZ
@given(
    kind=st.sampled_from(sorted(SLACK_TEMPLATES)),
    inner=st.fixed_dictionaries({}, optional=SLACK_EVENT_FIELDS),
    outer=st.fixed_dictionaries({}, optional=SLACK_BODY_FIELDS),
    shape=st.sampled_from(["body", "event-not-a-dict", "not-a-dict"]),
)
def test_slack_events_translate_or_drop_with_a_warning(kind, inner, outer, shape):
    body = load_event(SLACK_TEMPLATES[kind], type=kind)
    put(body["event"], inner)
    put(body, outer)
    if shape == "event-not-a-dict":
        body["event"] = [body["event"]]
    elif shape == "not-a-dict":
        body = [body]
    sent = copy.deepcopy(body)
    event, warned = warnings_of(translate_event, body, SLACK_BOT)
    assert body == sent  # the payload is read, never changed
    if event is None:
        if shape == "body" and slack_acted_on(body["event"]):
            assert warned, body
        return
    assert shape == "body"
    assert isinstance(event, SLACK_TYPES[body["event"]["type"]])
    assert_clean(event)
    assert event.platform == "slack"
    if isinstance(event, Message):
        assert event.event_id == f"msg:{event.channel.id}:{event.message_id}"
        assert event.thread_id != event.message_id


SLASH_FIELDS = {
    "user_id": field_values("W111", "UFAC"),
    "user_name": field_values("ada"),
    "channel_id": field_values("C111", "D111"),
    "channel_name": field_values("random", "directmessage", "privategroup"),
    "trigger_id": field_values("111.111.xxx"),
    "text": field_values("help", "profile city <https://x.org|x>", "add rates &amp; levies"),
    "command": field_values("/convener", "/ask", "/report", "/expertise", "/prompt", "/other"),
    "response_url": field_values("https://hooks.slack.com/commands/T111/1/x"),
}


@FUZZ
@given(form=st.fixed_dictionaries({}, optional=SLASH_FIELDS), as_dict=st.booleans())
def test_slack_slash_commands_translate_or_drop_with_a_warning(form, as_dict):
    payload = load_slash_command("help", response_url="https://hooks.slack.com/x")
    put(payload, form)
    if not as_dict:
        payload = list(payload.items())
    event, warned = warnings_of(translate_command, payload, NOW)
    if event is None:
        if as_dict:
            assert warned, payload
        return
    assert isinstance(event, SlashCommand)
    assert_clean(event)
    assert event.event_id == f"cmd:{normalise.ident(payload['trigger_id'])}"
    assert event.reply_token is None or event.reply_token == normalise.optional_text(
        event.reply_token
    )


ACTION_FIELDS = {
    "action_id": field_values("convener:0", "convener:12", "other:0"),
    "value": field_values("solved 3", "decline 4 not my topic", "   "),
    "action_ts": field_values("1548426417.840180"),
    "text": field_values({"type": "plain_text", "text": "Solved"}),
}
PAYLOAD_FIELDS = {
    "type": field_values("block_actions", "view_submission", "shortcut"),
    "user": field_values({"id": "W111", "name": "ada"}, {"id": "W111"}, {"username": "x"}),
    "channel": field_values({"id": "C111", "name": "general"}, {"name": "directmessage"}),
    "container": field_values({"channel_id": "C111", "message_ts": "1.2"}),
    "trigger_id": field_values("12321423423.333649436676.d8c1"),
    "response_url": field_values("https://hooks.slack.com/actions/A/1/x"),
    "actions": field_values([], [{"action_id": "convener:0", "value": "help"}], "help"),
}


@FUZZ
@given(
    action=st.fixed_dictionaries({}, optional=ACTION_FIELDS),
    payload=st.fixed_dictionaries({}, optional=PAYLOAD_FIELDS),
    extra_actions=st.lists(JSON_VALUES, max_size=2),
)
def test_slack_button_clicks_translate_or_drop_with_a_warning(action, payload, extra_actions):
    body = load_block_actions("help")
    put(body["actions"][0], action)
    put(body, payload)
    if isinstance(body.get("actions"), list):
        body["actions"].extend(extra_actions)
    convener_action(body)  # never raises
    event, warned = warnings_of(translate_action, body, NOW)
    if event is None:
        assert warned, body
        return
    assert isinstance(event, SlashCommand)
    assert_clean(event)
    assert event.text.strip() and event.text == event.text.strip()
    assert event.event_id.startswith("act:")


REPLY_FIELDS = {
    "type": field_values("message"),
    "subtype": field_values("bot_message", "tombstone", "thread_broadcast"),
    "user": field_values("W111", SLACK_BOT),
    "bot_id": field_values("B1"),
    "ts": field_values("1610261659.001400", "1610261660.000100"),
    "thread_ts": field_values("1610261659.001400"),
    "text": field_values("an answer", "<@W111> &lt;b&gt;"),
    "user_profile": field_values({"display_name": "Ada"}),
    "username": field_values("classic-bot"),
    "bot_profile": field_values({"name": "other-app"}),
}


@FUZZ
@given(
    message=maps(REPLY_FIELDS) | JSON_VALUES,
    root=st.sampled_from(["1610261659.001400", "x"]),
)
def test_slack_thread_replies_translate_or_are_left_out(message, root):
    reply, _ = warnings_of(translate_reply, message, root, SLACK_BOT)
    if reply is None:
        return
    assert isinstance(reply, ThreadMessage)
    assert reply.message_id != root and reply.message_id == normalise.ident(reply.message_id)
    assert reply.text == normalise.text(reply.text)
    assert reply.user.id == normalise.ident(reply.user.id)


# Matrix ----------------------------------------------------------------------------------------

MATRIX_KINDS = (
    "m.room.message",
    "m.room.member",
    "m.reaction",
    "m.room.redaction",
    "m.room.encrypted",
    "m.sticker",
    "m.room.name",
)
RELATION_FIELDS = {
    "rel_type": field_values("m.thread", "m.annotation", "m.replace", "m.reference"),
    "event_id": field_values("$root", "$target:example.org"),
    "key": field_values("👍", "✅", "✋", "white_check_mark"),
    "is_falling_back": field_values(True),
    "m.in_reply_to": field_values({"event_id": "$root"}, {"event_id": {"x": 1}}),
}
CONTENT_FIELDS = {
    "msgtype": field_values("m.text", "m.notice", "m.emote", "m.image", "m.file"),
    "body": field_values(
        "hello",
        "!help",
        f"{MATRIX_BOT}: profile city Nairobi",
        "> <@a:example.org> quoted\n\nthe answer",
        "convener, help",
    ),
    "format": field_values("org.matrix.custom.html"),
    "formatted_body": field_values("<b>hi</b>", "<script>x</script>"),
    "m.relates_to": maps(RELATION_FIELDS) | field_values(),
    "m.new_content": field_values({"msgtype": "m.text", "body": "edited"}),
    "membership": field_values("join", "leave", "ban", "invite", "knock"),
    "displayname": field_values("Amina", "Mal\x1blory"),
    "reason": field_values("spam"),
}
UNSIGNED_FIELDS = {
    "prev_content": field_values({"membership": "join"}, {"membership": "invite"}, {}),
    "redacted_because": field_values({"type": "m.room.redaction"}),
    "m.relations": field_values({"m.replace": {"event_id": "$edit"}}),
}
SOURCE_FIELDS = {
    "event_id": field_values("$event1", "$event2:example.org"),
    "sender": field_values("@amina:example.org", MATRIX_BOT),
    "origin_server_ts": field_values(1_767_225_600_000, 0, -5, 10**20),
    "state_key": field_values("@amina:example.org", "@bob:example.org", MATRIX_BOT, ""),
    "redacts": field_values("$event1"),
    "prev_content": field_values({"membership": "join"}),
}


@st.composite
def matrix_sources(draw) -> dict:
    source: dict[str, Any] = {
        "type": draw(st.sampled_from(MATRIX_KINDS) | JSON_VALUES),
        "event_id": "$event1",
        "sender": "@amina:example.org",
        "origin_server_ts": 1_767_225_600_000,
    }
    content = draw(maps(CONTENT_FIELDS))
    put(source, {"content": draw(st.just(content) | field_values())})
    put(source, draw(st.fixed_dictionaries({}, optional=SOURCE_FIELDS)))
    unsigned = draw(maps(UNSIGNED_FIELDS) | field_values())
    put(source, {"unsigned": unsigned})
    return source


def matrix_acted_on(source: dict) -> bool:
    """Whether Convener acts on this event at all, judged from the raw JSON: what it leaves
    out by design (other types, its own events, non-text messages, edits, invites and profile
    changes, relations that are not reactions) is dropped without a warning."""
    kind = source.get("type")
    if kind not in ("m.room.message", "m.room.member", "m.reaction", "m.room.encrypted"):
        return False
    content = source.get("content")
    content = content if isinstance(content, dict) else {}
    relates_to = content.get("m.relates_to")
    if kind == "m.room.member":
        if source.get("state_key") == MATRIX_BOT:
            return False
        now = content.get("membership")
        if not isinstance(now, str) or not now:
            return True  # malformed: dropped with a warning
        unsigned = source.get("unsigned")
        before = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
        if before is None:
            before = source.get("prev_content")
        before = before.get("membership") if isinstance(before, dict) else None
        joined = now == "join" and before != "join"
        return joined or (now in ("leave", "ban") and before == "join")
    if source.get("sender") == MATRIX_BOT:
        return False
    if kind == "m.room.encrypted":
        return True  # not decrypted: a message without its text
    if kind == "m.room.message":
        if content.get("msgtype") != "m.text":
            return False
        return not (isinstance(relates_to, dict) and relates_to.get("rel_type") == "m.replace")
    return not (isinstance(relates_to, dict) and relates_to.get("rel_type") != "m.annotation")


MATRIX_TYPES = {"m.room.message": Message, "m.reaction": ReactionAdded, "m.room.encrypted": Message}


def matrix_room(kind: str) -> MatrixRoom | None:
    if kind == "none":
        return None
    room = MatrixRoom(ROOM, MATRIX_BOT)
    room.add_member(MATRIX_BOT, "Convener", None)
    room.add_member("@amina:example.org", "A\u202e" * 150 if kind == "odd" else "Amina", None)
    if kind == "odd":
        room.name = "\x00" + "r" * 300
    return room


@pytest.fixture(scope="module")
def matrix_adapter() -> MatrixAdapter:
    return MatrixAdapter(Settings(_env_file=None, matrix_user_id=MATRIX_BOT))


def nio_event(source: dict) -> Any:
    """What the adapter gets from nio for this JSON (nio itself cannot parse some of it: then
    the raw JSON, as the adapter reads only `source`)."""
    try:
        parsed = NioEvent.parse_event(copy.deepcopy(source))
    except Exception:
        parsed = None
    return (
        parsed
        if isinstance(getattr(parsed, "source", None), dict)
        else SimpleNamespace(source=source)
    )


@FUZZ
@given(source=matrix_sources(), room=st.sampled_from(["none", "plain", "odd"]))
def test_matrix_events_translate_or_drop_with_a_warning(matrix_adapter, source, room):
    raw = nio_event(source)
    sent = copy.deepcopy(raw.source)
    event, warned = warnings_of(matrix_adapter.translate, ROOM, matrix_room(room), raw)
    assert raw.source == sent
    if event is None:
        if matrix_acted_on(raw.source):
            assert warned, raw.source
        return
    kind = raw.source["type"]
    assert matrix_acted_on(raw.source), raw.source
    assert_clean(event)
    assert event.platform == "matrix" and event.channel.id == ROOM
    if kind == "m.room.member":
        assert isinstance(event, MemberJoined | MemberLeft)
        assert event.user.id == normalise.ident(raw.source["state_key"])
        return
    assert isinstance(event, MATRIX_TYPES[kind])
    assert event.user.id == normalise.ident(raw.source["sender"]) != MATRIX_BOT
    if isinstance(event, Message):
        assert event.message_id == event.event_id and event.thread_id != event.event_id


EDIT_FIELDS = {
    "type": field_values("m.room.message"),
    "event_id": field_values("$edit1", "$edit2"),
    "sender": field_values("@amina:example.org", "@bob:example.org"),
    "origin_server_ts": field_values(1_767_225_700_000, 1_767_225_800_000),
    "content": field_values(
        {
            "msgtype": "m.text",
            "body": "* edited",
            "m.new_content": {"msgtype": "m.text", "body": "edited"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$event1"},
        },
        {"m.new_content": {"body": 5}, "m.relates_to": {"rel_type": "m.replace"}},
    ),
    "state_key": field_values(""),
}


@FUZZ
@given(
    source=matrix_sources(),
    bundled=maps(EDIT_FIELDS) | field_values(),
    edits=st.lists(maps(EDIT_FIELDS) | JSON_VALUES, max_size=3),
)
def test_matrix_thread_replies_read_or_are_left_out(matrix_adapter, source, bundled, edits):
    """A thread's reply as it stands now (the path of `MatrixAdapter.thread`): a reply, None,
    or `Malformed` (which `thread` logs and skips); nothing else."""
    source = {**source, "type": "m.room.message"}
    if bundled is not DELETE:
        source["unsigned"] = {"m.relations": {"m.replace": bundled}}

    async def relations(room_id, event_id, rel_type, limit):
        return [e for e in edits if isinstance(e, dict)]

    adapter = MatrixAdapter(Settings(_env_file=None, matrix_user_id=MATRIX_BOT))
    adapter._relations = relations  # type: ignore[method-assign]
    dropped: list[str] = []
    try:
        reply = asyncio.run(adapter._thread_reply(ROOM, None, "$root", source, dropped))
    except normalise.Malformed:
        return
    assert all(isinstance(name, str) for name in dropped)
    if reply is None:
        return
    assert isinstance(reply, ThreadMessage) and reply.text.strip()
    assert reply.text == normalise.text(reply.text)
    assert reply.message_id != "$root"
    assert reply.user.is_bot == (reply.user.id == MATRIX_BOT)


@FUZZ
@given(timeline=st.lists(matrix_sources(), max_size=4))
def test_matrix_history_before_the_bots_own_join_is_cut_without_raising(matrix_adapter, timeline):
    raws = [SimpleNamespace(source=source) for source in timeline]
    kept = matrix_adapter._since_own_join(raws)
    assert kept == raws[len(raws) - len(kept) :]
    for raw in raws:
        matrix_events.is_redacted(raw.source)
        matrix_events.bundled_edit(raw.source)


# Console -------------------------------------------------------------------------------------


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.tuples(
                st.sampled_from(
                    [
                        "/as",
                        "/join",
                        "/react",
                        "/reply",
                        "/dm",
                        "/wait",
                        "/convener",
                        "/nope",
                        "/",
                        "!help",
                        "#",
                    ]
                ),
                st.one_of(NASTY_TEXT, st.text(max_size=20)),
            ).map(" ".join),
        ),
        max_size=6,
    )
)
def test_console_lines_become_events_or_a_note(lines):
    console = ConsoleAdapter(out=io.StringIO(), clock=lambda: NOW)
    for line in lines:
        result = console.parse(line)
        ConsoleAdapter.wait_seconds(line)
        if isinstance(result, str):
            assert result.startswith("(console)")
            continue
        for event in result:  # the terminal's text is cleaned by the core, not here
            assert normalise.event(event) is not None
            assert event.platform == "console"


# Through the core -------------------------------------------------------------------------------
#
# What the translations yield, handed to the real core (pipeline, listeners, commands): the
# payloads aim at what exists (the question's and the event's posts, their threads, known
# members), so the listeners for reactions, joins and direct messages act on them.

PEOPLE = ("alice", "bob", "fac", "dana", "newcomer")
PAYLOADS = itertools.count(1)


@pytest.fixture(params=["slack", "matrix"])
async def core(request, settings, clock):
    harness = await BotHarness(request.param, settings, clock).start()
    await harness.say("fac", "!topic add budgeting: budget, levy")
    await harness.say("bob", "!expertise add budgeting")
    await harness.say("alice", "!ask How do we forecast property tax revenue?: budgeting")
    await harness.say("fac", '!event add 2026-03-20 10:00 "Budget clinic": budgeting')
    await harness.say("dana", "Does anyone have a template for a levy?")
    yield harness
    await harness.close()


TEXTS = st.one_of(
    st.sampled_from(
        [
            "!help",
            "!questions",
            "thanks, that helps",
            "help",
            "skip",
            "stop",
            "budgeting",
            "Nairobi",
            "City of Kisumu, budget officer",
            "ask",
            "what about levies?",
            "!solved 1",
            "!rsvp 1",
            "",
        ]
    ),
    NASTY_TEXT,
    st.text(max_size=30),
)
EMOJI = st.sampled_from(
    [
        "white_check_mark",
        "✅",
        "✅\ufe0f",
        "raised_hand",
        "✋",
        "+1",
        "+1::skin-tone-3",
        "👍🏽",
        "heart",
        "",
        "::",
        ":white_check_mark:",
    ]
)


def mostly(valid: st.SearchStrategy, *also: Any) -> st.SearchStrategy:
    """Usually a value that makes sense here; sometimes anything (or missing)."""
    junk = field_values(*also)
    return st.sampled_from([True] * 6 + [False]).flatmap(lambda sane: valid if sane else junk)


def slack_payload(draw, harness: BotHarness, ids: list[str], n: int) -> dict:
    users = st.sampled_from([harness.user(name).id for name in PEOPLE])
    channels = st.sampled_from([harness.channel().id, "D" + harness.user("alice").id[1:]])
    targets = st.integers(0, 63).map(lambda i: ids[i % len(ids)])  # ids grow: fixed bounds
    kind = draw(st.sampled_from(sorted(SLACK_TEMPLATES)))
    fields = {
        "user": mostly(users),
        "channel": mostly(channels),
        "channel_type": mostly(st.sampled_from(["channel", "im"])),
        "thread_ts": mostly(targets),
        "text": mostly(TEXTS),
        "reaction": mostly(EMOJI),
        "item": mostly(
            st.fixed_dictionaries({"type": st.just("message"), "channel": channels, "ts": targets})
        ),
        "subtype": field_values("thread_broadcast", "me_message"),
    }
    body = load_event(SLACK_TEMPLATES[kind], type=kind, ts=f"{1_772_441_000 + n}.000100")
    body["event"].update(user=draw(users), channel=harness.channel().id)
    put(body["event"], draw(st.fixed_dictionaries({}, optional=fields)))
    return body


def matrix_payload(draw, harness: BotHarness, ids: list[str], n: int) -> dict:
    users = st.sampled_from([harness.user(name).id for name in PEOPLE])
    targets = st.integers(0, 63).map(lambda i: ids[i % len(ids)])  # ids grow: fixed bounds
    kind = draw(st.sampled_from(["m.room.message", "m.room.member", "m.reaction"]))
    annotation = st.fixed_dictionaries(
        {"rel_type": st.just("m.annotation"), "event_id": targets, "key": EMOJI}
    )
    relation = st.one_of(
        st.fixed_dictionaries({"rel_type": st.just("m.thread"), "event_id": targets}),
        st.fixed_dictionaries({"m.in_reply_to": st.fixed_dictionaries({"event_id": targets})}),
        maps(RELATION_FIELDS),
    )
    if kind == "m.room.message":
        content = st.fixed_dictionaries(
            {"msgtype": mostly(st.just("m.text")), "body": mostly(TEXTS)},
            optional={"m.relates_to": mostly(relation), "formatted_body": field_values("<b>")},
        )
    elif kind == "m.room.member":
        content = st.fixed_dictionaries(
            {"membership": mostly(st.sampled_from(["join", "leave", "invite"]))},
            optional={"displayname": mostly(st.just("Newcomer"))},
        )
    else:
        content = st.fixed_dictionaries({"m.relates_to": mostly(annotation)})
    source = {
        "type": kind,
        "event_id": f"$fuzz{n}",
        "sender": draw(users),
        "origin_server_ts": 1_772_441_000_000 + n,
        "content": {k: v for k, v in draw(content).items() if v is not DELETE},
    }
    if kind == "m.room.member":
        source["state_key"] = draw(mostly(users))
        source["unsigned"] = draw(maps(UNSIGNED_FIELDS))
    return source


@FUZZ
@given(data=st.data())
async def test_translated_payloads_are_handled_without_errors(core, data):
    """A translated payload through the core: no listener or command raises (it would log
    an error, or answer "failed on my side")."""
    core.clock.advance(minutes=3)
    n = next(PAYLOADS)
    ids = sorted({s.message_id for s in core.platform.sent} | {"in1", "in2", "$nothing"})
    if core.platform_name == "slack":
        body = slack_payload(data.draw, core, ids, n)
        event = translate_event(body, core.platform.bot_user.id)
    else:
        source = matrix_payload(data.draw, core, ids, n)
        adapter = MatrixAdapter(Settings(_env_file=None, matrix_user_id=core.platform.bot_user.id))
        room = MatrixRoom(core.channel().id, core.platform.bot_user.id)
        room.add_member(core.platform.bot_user.id, "convener", None)
        event = adapter.translate(core.channel().id, room, SimpleNamespace(source=source))
    hypothesis.event(type(event).__name__ if event is not None else "not acted on")
    if event is None:
        return
    sent_before = len(core.platform.sent)
    errors = Records(logging.ERROR)
    logging.getLogger().addHandler(errors)
    try:
        await core.app.handle(event)
        await core.app.persisted()
    finally:
        logging.getLogger().removeHandler(errors)
    assert errors.records == [], [r.getMessage() for r in errors.records]
    for sent in core.platform.sent[sent_before:]:
        assert "failed on my side" not in sent.text, sent.text
        assert sent.text.strip() or sent.file is not None
