"""The Slack adapter's pure parts on Slack's real payloads: events in, text both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack.events import translate_command, translate_event
from adapters.slack.text import from_slack, to_mrkdwn, user_from_mention
from bot import normalise
from bot.types import MemberJoined, MemberLeft, Message, ReactionAdded, SlashCommand, UserRef
from tests.slack_fake import DELETE, load_event, load_slash_command

BOT = "W23456789"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_channel_message():
    body = load_event("message_channel.bolt-python")
    event = translate_event(body, BOT)
    assert isinstance(event, Message)
    assert event.event_id == "msg:C111:1610261659.001400"
    assert (event.user.platform, event.user.id, event.user.is_bot) == ("slack", "W111", False)
    assert (event.channel.id, event.channel.is_direct) == ("C111", False)
    assert event.text == "Hi there! Thanks for sharing the info!"
    assert event.message_id == "1610261659.001400" and event.thread_id is None
    assert event.ts == datetime.fromtimestamp(1610261659.0014, UTC)
    assert not event.mentions_bot


def test_thread_replies_in_channel_and_dm():
    reply = translate_event(load_event("message_thread_reply_channel.docs-composed"), BOT)
    assert isinstance(reply, Message) and reply.is_reply
    assert reply.thread_id == "1482960137.003543" and reply.message_id == "1483037603.017503"
    dm = translate_event(load_event("message_thread_reply_dm.bolt-python"), BOT)
    assert isinstance(dm, Message) and dm.channel.is_direct and dm.is_reply
    broadcast = translate_event(load_event("message_thread_broadcast.bolt-python"), BOT)
    assert isinstance(broadcast, Message) and broadcast.thread_id == "1633663824.000500"
    root = translate_event(
        load_event("message_channel.bolt-python", thread_ts="1610261659.001400"), BOT
    )
    assert root.thread_id is None  # a thread's root carries thread_ts == ts


def test_bot_messages_are_marked_as_bots():
    classic = translate_event(load_event("message_bot_message_subtype.bolt-python"), BOT)
    assert classic.user.is_bot and classic.user.id == "B888" and classic.user.name == "classic-bot"
    app_bot = translate_event(load_event("message_from_app_bot_no_subtype.bolt-python"), BOT)
    assert app_bot.user.is_bot and app_bot.user.id == "UB111" and app_bot.user.name == "other-app"


@pytest.mark.parametrize(
    "name",
    [
        "message_changed.bolt-python",
        "message_deleted.bolt-python",
        "message_deleted.docs",
        "message_replied.docs",
        "team_join.docs-composed",
        "url_verification.docs",
        "app_rate_limited.docs",
    ],
)
def test_edits_deletions_and_other_events_are_not_acted_on(name):
    assert translate_event(load_event(name), BOT) is None


def test_channel_join_notice_is_not_a_message():
    body = load_event("message_channel.bolt-python", subtype="channel_join")
    assert translate_event(body, BOT) is None


def test_app_mention_and_its_message_are_one_event():
    text = f"<@{BOT}> profile city Nairobi"
    mention = translate_event(load_event("app_mention.bolt-python", text=text), BOT)
    message = translate_event(
        load_event(
            "message_channel.bolt-python",
            text=text,
            user="W222",
            ts="1595926230.009600",
            blocks=DELETE,
        ),
        BOT,
    )
    assert mention == message  # same dedupe key, same content
    assert mention.event_id == "msg:C111:1595926230.009600"
    assert mention.mentions_bot and mention.text == "profile city Nairobi"
    aside = translate_event(load_event("app_mention.bolt-python", text=f"thanks <@{BOT}>!"), BOT)
    assert not aside.mentions_bot and aside.text == f"thanks <@{BOT}>!"


def test_member_joined_and_left():
    body = load_event("member_joined_channel.bolt-python")
    joined = translate_event(body, BOT)
    assert isinstance(joined, MemberJoined) and joined.event_id == body["event_id"]
    assert (joined.user.id, joined.channel.id) == ("W111", "C111")
    assert joined.ts == datetime.fromtimestamp(body["event_time"], UTC)
    left = translate_event(load_event("member_joined_channel.docs", type="member_left_channel"))
    assert isinstance(left, MemberLeft) and left.user.id == "W123ABC456"


def test_reaction_added():
    body = load_event("reaction_added.bolt-python", reaction="white_check_mark::skin-tone-2")
    event = translate_event(body, BOT)
    assert isinstance(event, ReactionAdded)
    assert event.event_id == "react:C111:1599529504.000400:W111:white_check_mark::skin-tone-2"
    assert (event.message_id, event.emoji) == ("1599529504.000400", "white_check_mark")
    assert (event.user.id, event.channel.id) == ("W111", "C111")
    on_file = load_event("reaction_added.bolt-python", item={"type": "file", "file": "F1"})
    assert translate_event(on_file, BOT) is None


def test_slash_commands_and_shortcuts():
    form = load_slash_command("profile city Nairobi", response_url="http://x/response/t")
    event = translate_command(form, NOW)
    assert isinstance(event, SlashCommand)
    assert event.text == "profile city Nairobi" and event.reply_token == "http://x/response/t"
    assert event.event_id == f"cmd:{form['trigger_id']}" and event.ts == NOW
    assert event.user == UserRef("slack", "W111") and event.channel.name == "#random"
    offer = translate_command(load_slash_command("add rates &amp; levies", "/expertise"), NOW)
    assert offer.text == "expertise add rates & levies"
    assert translate_command(load_slash_command("", "/report"), NOW).text == "report"
    dm = translate_command(
        load_slash_command("help", channel_id="D111", channel_name="directmessage"), NOW
    )
    assert dm.channel.is_direct and dm.channel.name is None
    assert translate_command({"text": "help"}, NOW) is None


def test_incoming_markup_becomes_plain_text():
    assert from_slack("<@W1|ada> hi <#C1|general> <!here>") == "<@W1> hi #general @here"
    assert from_slack("resource add <https://x.org/a?b=1&amp;c=2> Guide") == (
        "resource add https://x.org/a?b=1&c=2 Guide"
    )
    assert from_slack("<http://example.org|example.org> <https://y.org|the guide>") == (
        "http://example.org [the guide](https://y.org)"
    )
    assert from_slack("<mailto:a@b.org|a@b.org> 1 &lt; 2 &amp;lt;") == "a@b.org 1 < 2 &lt;"


def test_markdown_becomes_mrkdwn():
    assert to_mrkdwn("**bold**, *italic* and ~~gone~~") == "*bold*, _italic_ and ~gone~"
    assert to_mrkdwn("# Report\n- one\n* two") == "*Report*\n• one\n• two"
    assert to_mrkdwn("[guide](https://x.org/?a=1&b=2)") == "<https://x.org/?a=1&amp;b=2|guide>"
    assert to_mrkdwn("5 * 3 * 2 and snake_case_name") == "5 * 3 * 2 and snake_case_name"
    assert to_mrkdwn("`**x** < y` and\n```python\nif a < b:\n```") == (
        "`**x** &lt; y` and\n```if a &lt; b:\n```"
    )
    assert to_mrkdwn("> quoted\nask <@W1>, not <!channel> & <#C1>") == (
        "> quoted\nask <@W1>, not &lt;!channel&gt; &amp; <#C1>"
    )


def test_user_from_mention():
    assert user_from_mention("<@W111>") == UserRef("slack", "W111")
    named = user_from_mention(" <@U0ABC|ada> ")
    assert named.id == "U0ABC" and named.name == "ada"
    assert user_from_mention("@ada") is None and user_from_mention("<#C111>") is None


# --- malformed payloads: never raise, drop what is malformed -------------------------------

OBJECT = {"not": "a string"}


@pytest.mark.parametrize(
    ("fields", "dropped"),
    [
        ({"thread_ts": OBJECT}, "thread_ts"),
        ({"thread_ts": ["1610261659.001400"]}, "thread_ts"),
        ({"text": OBJECT}, "text"),
        ({"text": [1, 2]}, "text"),
        ({"user_profile": [1]}, "user_profile"),
        ({"user_profile": {"display_name": OBJECT}}, "user_profile.display_name"),
    ],
)
def test_malformed_optional_field_is_left_out_with_one_warning(caplog, fields, dropped):
    event = translate_event(load_event("message_channel.bolt-python", **fields), BOT)
    assert isinstance(event, Message) and event.event_id == "msg:C111:1610261659.001400"
    assert event.thread_id is None and event.user.id == "W111"
    assert normalise.event(event) == event  # the core takes it as it is
    (warning,) = caplog.records
    assert f"ignored malformed {dropped}" in warning.getMessage()


@pytest.mark.parametrize(
    "fields",
    [
        {"user": OBJECT},
        {"user": ["W111"]},
        {"channel": OBJECT},
        {"channel": 5.5},
        {"ts": OBJECT},
        {"ts": True},
        {"ts": "  "},
    ],
)
def test_malformed_required_field_drops_the_event_with_one_warning(caplog, fields):
    assert translate_event(load_event("message_channel.bolt-python", **fields), BOT) is None
    (warning,) = caplog.records
    assert "dropped a malformed message event" in warning.getMessage()


@pytest.mark.parametrize(
    "body",
    [
        None,
        [1, 2],
        "text",
        {"event": [1]},
        {"event": {"type": OBJECT}},
        {"event": {"type": "message", "subtype": OBJECT, "user": "W1"}},
        {"event": {"type": "message", "subtype": ["bot_message"]}},
        {
            "event_id": OBJECT,
            "event": {"type": "member_joined_channel", "user": "W1", "channel": "C1"},
        },
        {"event_id": "Ev1", "event": {"type": "reaction_added", "user": "W1", "item": [1]}},
        {
            "event_id": "Ev1",
            "event": {
                "type": "reaction_added",
                "user": "W1",
                "reaction": OBJECT,
                "item": {"type": "message", "channel": "C1"},
            },
        },
    ],
)
def test_bodies_shaped_like_nothing_slack_sends_are_not_acted_on(body):
    assert translate_event(body, BOT) is None


def test_malformed_reaction_and_membership_fields():
    body = load_event("reaction_added.bolt-python")
    body["event"]["item"]["ts"] = OBJECT
    reaction = translate_event(body, BOT)
    assert isinstance(reaction, ReactionAdded) and reaction.message_id == ""
    joined = load_event("member_joined_channel.bolt-python", user=OBJECT)
    assert translate_event(joined, BOT) is None


def test_malformed_slash_command_fields():
    form = load_slash_command("help", response_url="http://x/response/t")
    assert translate_command({**form, "text": ["help"]}, NOW).text == ""
    assert translate_command({**form, "command": OBJECT, "text": "x"}, NOW).text == "x"
    assert translate_command({**form, "response_url": OBJECT}, NOW).reply_token is None
    assert translate_command({**form, "channel_name": 5}, NOW).channel.name == "#5"
    for required in ("user_id", "channel_id", "trigger_id"):
        assert translate_command({**form, required: OBJECT}, NOW) is None
    assert translate_command(["not", "a", "form"], NOW) is None  # type: ignore[arg-type]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
MESSAGE_FIELDS = ("type", "subtype", "user", "bot_id", "channel", "channel_type", "ts",
                  "thread_ts", "text", "user_profile", "bot_profile", "username")  # fmt: skip


COMMAND_FIELDS = ("user_id", "user_name", "channel_id", "channel_name", "trigger_id", "text",
                  "command", "response_url")  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.dictionaries(st.sampled_from(MESSAGE_FIELDS), JSON_VALUES, max_size=6),
    st.sampled_from(["message", "app_mention", "reaction_added", "member_joined_channel"]),
    st.dictionaries(st.sampled_from(COMMAND_FIELDS), JSON_VALUES, max_size=4),
)
def test_any_payload_translates_without_raising(fields, kind, form):
    """Whatever the fields hold, translation does not raise, and what it returns is an
    event the core's own check accepts."""
    body = load_event("message_channel.bolt-python", type=kind)
    body["event"].update(fields)
    event = translate_event(body, BOT)
    if event is not None:
        assert normalise.event(event) is not None
    command = translate_command({**load_slash_command("help"), **form}, NOW)
    if command is not None:
        assert normalise.event(command) is not None
