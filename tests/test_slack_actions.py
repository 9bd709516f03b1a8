"""Buttons on Slack: a message sent with actions is drawn with Block Kit, each button carrying
the command it stands for; a click (Slack's real `block_actions` payload, as a signed form
`payload=<json>` over HTTP or an `interactive` envelope over Socket Mode) reaches the core as
that command typed by whoever pressed it, acknowledged once stored, and is answered to the
presser alone. And `permalink`. Run through the real adapter and core against the local Web
API of `tests/slack_fake.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import UTC, datetime

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.events import translate_action
from adapters.slack.text import (
    BUTTONS_PER_BLOCK,
    LABEL_CHARS,
    SECTION_CHARS,
    VALUE_CHARS,
    blocks,
    split_text,
)
from bot.arguments import Rest
from bot.commands import Command
from bot.context import Context
from bot.i18n import verbatim
from bot.router import Router
from bot.types import Action, ChannelRef, Event, SlashCommand, UserRef
from tests.slack_fake import (
    DELETE,
    RESPONSE_URL,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    encode_payload,
    interactive_envelope,
    load_block_actions,
    post_signed,
)
from tests.test_slack_adapter import ACK_SECONDS, FORM, SECRET, SlackBot
from tests.test_slack_spine import StoringGate

pytestmark = pytest.mark.slack

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PRACTICE = ChannelRef("slack", "C111", "#practice")
ADA = UserRef("slack", "W111", "Ada")


@pytest.fixture
async def socket_server():
    async with FakeSocketModeServer() as server:
        yield server


@pytest.fixture
async def slack(socket_server):
    users = {"W111": "Ada", "W222": "Grace Hopper"}
    async with FakeSlackWebAPI(users=users, socket_mode=socket_server) as fake:
        fake.add_channel("C111", "practice")
        yield fake


@pytest.fixture(params=["http", "socket"])
def transport(request) -> str:
    return request.param


def echo_router(seen: list[Event]) -> Router:
    """A tiny command that shows what it was given, and records the event it came in."""
    router = Router()

    @router.command("echo", args=[Rest("words", optional=True)])
    async def echo(ctx: Context, cmd: Command) -> str:
        seen.append(cmd.event)
        return verbatim(f"echo from {cmd.sender.id}: {cmd.values.words or ''}")

    return router


def echo_bot_for(settings, slack, socket_server, transport, handlers: bool = False) -> SlackBot:
    """Convener on Slack with the `echo` command (and every feature's handlers, or none);
    `seen` is what reached a command."""
    seen: list[Event] = []
    running = SlackBot(
        settings, slack, socket_server, transport, echo_router(seen), handlers=handlers
    )
    running.seen = seen
    return running


@pytest.fixture
async def echo_bot(settings, slack, socket_server, transport):
    """Only the `echo` command (no feature handlers), over HTTP and over Socket Mode."""
    running = await echo_bot_for(settings, slack, socket_server, transport).start()
    yield running
    await running.stop()


@pytest.fixture
async def http_bot(settings, slack, socket_server):
    running = await echo_bot_for(settings, slack, socket_server, "http").start()
    yield running
    await running.stop()


async def click(bot: SlackBot, payload: dict | str, *, expect: int = 200) -> None:
    """Deliver a click as Slack does; returns once it is answered (and handled, if 200)."""
    if bot.transport == "http":
        status, _ = await post_signed(
            bot.adapter.url, encode_payload(payload), FORM, SECRET, timeout=ACK_SECONDS
        )
        assert status == expect
    else:
        envelope = interactive_envelope(payload)  # type: ignore[arg-type]
        await bot.socket_server.send_envelope(envelope)
        await bot.socket_server.wait_for_ack(envelope["envelope_id"], timeout=ACK_SECONDS)
    if expect == 200:
        await bot.handled()


def posted_buttons(call) -> list[dict]:
    """The buttons of a recorded chat.postMessage."""
    return [
        element
        for block in call.params.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# --- drawing buttons ---------------------------------------------------------------------------


async def test_send_with_actions_posts_buttons_that_carry_the_commands(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    actions = [Action("Solved", "solved 12"), Action("Not my topic", "decline 12 not my topic")]
    sent = await adapter.send(PRACTICE, "Is question 12 **solved**?", actions=actions)
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["text"] == "Is question 12 *solved*?"  # the notification's fallback
    section, row = post.params["blocks"]
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Is question 12 *solved*?"},
    }
    assert row["type"] == "actions"
    assert [(b["type"], b["text"], b["action_id"], b["value"]) for b in row["elements"]] == [
        ("button", {"type": "plain_text", "text": "Solved", "emoji": True}, "convener:0",
         "solved 12"),
        ("button", {"type": "plain_text", "text": "Not my topic", "emoji": True}, "convener:1",
         "decline 12 not my topic"),
    ]  # fmt: skip
    assert slack.messages[("C111", sent.message_id)]["blocks"] == post.params["blocks"]
    assert sent.extra["actions"] == actions

    dm = await adapter.send_dm(ADA, "Can you help?", actions=[Action("Decline", "decline 12")])
    assert dm.channel.id == "DW111" and dm.private_to == ADA
    (button,) = posted_buttons(slack.calls_to("chat.postMessage")[-1])
    assert (button["action_id"], button["value"]) == ("convener:0", "decline 12")


async def test_send_without_actions_posts_no_blocks(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    await adapter.send(PRACTICE, "plain **text**", thread_id="1610261659.001400")
    await adapter.send_dm(ADA, "plain too")
    for post in slack.calls_to("chat.postMessage"):
        assert "blocks" not in post.params and "blocks" not in post.json()
    assert [p.params["text"] for p in slack.calls_to("chat.postMessage")] == [
        "plain *text*",
        "plain too",
    ]


async def test_long_text_is_split_into_sections_before_the_buttons(http_bot):
    paragraph = "The budget line for **transport** & <parks> grew again. " * 20
    text = "\n\n".join([paragraph] * 8)  # about 8,900 characters of mrkdwn
    await http_bot.adapter.send(PRACTICE, text, actions=[Action("Solved", "solved 3")])
    (post,) = http_bot.slack.calls_to("chat.postMessage")
    *sections, row = post.params["blocks"]
    assert len(sections) > 2 and row["type"] == "actions"
    assert all(0 < len(s["text"]["text"]) <= SECTION_CHARS for s in sections)
    joined = "".join(s["text"]["text"] for s in sections)
    assert joined.split() == post.params["text"].split()  # nothing lost, nothing cut in two
    assert "&amp; &lt;parks&gt;" in post.params["text"]


def test_blocks_respect_block_kit_limits(caplog):
    many = [Action(f"Option {n}", f"pick {n}") for n in range(30)]
    drawn = blocks("choose", [*many, Action("x" * 100, "long label"), Action("big", "y" * 2001)])
    rows = [b for b in drawn if b["type"] == "actions"]
    assert [len(r["elements"]) for r in rows] == [BUTTONS_PER_BLOCK, 6]
    buttons = [e for r in rows for e in r["elements"]]
    assert len({b["action_id"] for b in buttons}) == len(buttons) == 31
    assert all(len(b["value"]) <= VALUE_CHARS for b in buttons)
    long_label = buttons[-1]
    assert long_label["value"] == "long label"
    assert len(long_label["text"]["text"]) == LABEL_CHARS
    assert long_label["text"]["text"].endswith("…")
    assert caplog.text.count("no button for a command of 2001 characters") == 1
    (only_buttons,) = blocks("", [Action("Go", "go")])  # no text: no empty section
    assert only_buttons["type"] == "actions" and only_buttons["elements"][0]["value"] == "go"


def bare(text: str) -> str:
    """The text without whitespace and backticks: what splitting must keep."""
    return "".join(text.split()).replace("`", "")


def test_split_text_keeps_links_entities_and_code_blocks_whole():
    rng = random.Random(7)
    words = ["budget", "<https://example.org/a|link>", "&amp;", "```", "x" * 40, "\n", "line\n"]
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 900)))
        pieces = split_text(text, 300)
        assert all(0 < len(p) <= 300 and p.strip() for p in pieces)
        assert all(p.count("```") % 2 == 0 for p in pieces[:-1])  # code blocks closed
        for piece in pieces:
            assert piece.count("<") == piece.count(">")
            assert "&amp" not in piece.replace("&amp;", "")
        assert bare("".join(pieces)) == bare(text)
    unbroken = "a" * 7000
    assert [len(p) for p in split_text(unbroken)] == [2997, 2997, 1006]


# --- a click, translated -----------------------------------------------------------------------


def test_translate_action_is_the_command_typed_by_the_presser():
    payload = load_block_actions("decline 12 not my topic", "convener:1", user_id="W222")
    event = translate_action(payload, NOW)
    assert isinstance(event, SlashCommand)
    assert event.text == "decline 12 not my topic"
    assert event.user == UserRef("slack", "W222") and event.user.name == "jtorrance"
    assert event.channel == ChannelRef("slack", "C111") and not event.channel.is_direct
    assert event.channel.name == "#review-updates"
    assert event.reply_token == payload["response_url"]
    assert event.event_id == f"act:{payload['trigger_id']}" and event.ts == NOW
    assert translate_action(payload, NOW) == event  # the same click is the same event

    bolt = translate_action(load_block_actions("help", source="bolt-python"), NOW)
    assert bolt is not None and bolt.user.name == "primary-owner"

    in_dm = load_block_actions("solved 12", channel_id="D0ABC")
    in_dm["channel"]["name"] = "directmessage"
    dm = translate_action(in_dm, NOW)
    assert dm is not None and dm.channel.is_direct and dm.channel.name is None

    no_trigger = load_block_actions("help", trigger_id=DELETE)
    event = translate_action(no_trigger, NOW)
    assert event is not None
    assert event.event_id == f"act:W111:{no_trigger['actions'][0]['action_ts']}"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(actions=[]),
        lambda p: p.pop("actions"),
        lambda p: p.update(actions="convener:0"),
        lambda p: p["actions"][0].update(action_id="WaXA"),
        lambda p: p["actions"][0].update(value={"not": "text"}),
        lambda p: p["actions"][0].pop("value"),
        lambda p: p["actions"][0].update(value="   "),
        lambda p: p.pop("user"),
        lambda p: p["user"].update(id=["W111"]),
        lambda p: (p.pop("channel"), p.pop("container")),
        lambda p: p.update(type="view_submission"),
    ],
)
def test_translate_action_drops_a_malformed_click_with_one_warning(change, caplog):
    payload = load_block_actions("help")
    change(payload)
    assert translate_action(payload, NOW) is None
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    assert not caplog.records[0].exc_info


def test_translate_action_never_raises():
    rng = random.Random(3)
    junk = [None, 1, 1.5, True, "x", "", [], {}, [1], {"id": 3}, "\x00\u202e", "D1"]
    for _ in range(500):
        payload = load_block_actions("help")
        for key in rng.sample(["user", "channel", "container", "trigger_id", "response_url"], 2):
            payload[key] = rng.choice(junk)
        payload["actions"][0][rng.choice(["value", "action_ts", "action_id"])] = rng.choice(junk)
        translate_action(payload, NOW)
    for junk_payload in junk:
        assert translate_action(junk_payload, NOW) is None


def test_fallback_channel_is_the_container():
    payload = load_block_actions("help", channel_id="C222", channel=DELETE)
    event = translate_action(payload, NOW)
    assert event is not None and event.channel.id == "C222" and event.channel.name is None


# --- a click, delivered ------------------------------------------------------------------------


async def test_click_reaches_the_core_as_the_presser_typing_the_command(echo_bot):
    url = echo_bot.slack.response_url("click")
    payload = load_block_actions("echo 12 not my topic", "convener:1", response_url=url)
    await click(echo_bot, payload)
    (event,) = echo_bot.seen
    assert isinstance(event, SlashCommand)
    assert event.text == "echo 12 not my topic" and event.reply_token == url
    assert event.user == UserRef("slack", "W111") and event.user.name == "Ada"  # users.info
    assert event.channel == ChannelRef("slack", "C111") and event.channel.name == "#review-updates"
    (answer,) = echo_bot.slack.responses_to("click")
    assert answer == {"text": "echo from W111: 12 not my topic", "response_type": "ephemeral"}
    assert not echo_bot.slack.calls_to("chat.postMessage") and not echo_bot.slack.ephemeral
    assert await echo_bot.activity() == {f"act:{payload['trigger_id']}": "command"}


async def test_a_click_delivered_again_is_handled_once(echo_bot):
    url = echo_bot.slack.response_url("twice")
    payload = load_block_actions("echo once", response_url=url)
    await click(echo_bot, payload)
    await click(echo_bot, payload)
    if echo_bot.transport == "http":  # and together
        statuses = await asyncio.gather(
            *(
                post_signed(echo_bot.adapter.url, encode_payload(payload), FORM, SECRET)
                for _ in range(3)
            )
        )
        assert [status for status, _ in statuses] == [200, 200, 200]
        await echo_bot.handled()
    assert len(echo_bot.seen) == 1
    assert len(echo_bot.slack.responses_to("twice")) == 1
    assert list((await echo_bot.activity()).values()) == ["command"]


async def test_unsigned_or_badly_signed_click_is_401(http_bot):
    body = encode_payload(load_block_actions("echo no", response_url=http_bot.slack.response_url()))
    assert (await post_signed(http_bot.adapter.url, body, FORM, "wrong-secret"))[0] == 401
    stale = await post_signed(http_bot.adapter.url, body, FORM, SECRET, timestamp=1531420618)
    assert stale[0] == 401
    unsigned = {"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""}
    assert (await post_signed(http_bot.adapter.url, body, FORM, SECRET, headers=unsigned))[0] == 401
    await http_bot.handled()
    assert http_bot.seen == [] and await http_bot.activity() == {}
    assert [c.method for c in http_bot.slack.calls] == ["auth.test"]


MALFORMED = {
    "actions missing": lambda p: p.pop("actions"),
    "actions empty": lambda p: p.update(actions=[]),
    "not our button": lambda p: p["actions"][0].update(action_id="WaXA"),
    "action_id an object": lambda p: p["actions"][0].update(action_id={"id": 1}),
    "no command": lambda p: p["actions"][0].pop("value"),
    "no user": lambda p: p.pop("user"),
    "user a string": lambda p: p.update(user="W111"),
    "user a list": lambda p: p.update(user=["W111"]),
    "channel a string": lambda p: p.update(channel="C111", container=None),
    "container a list": lambda p: p.update(container=[1], channel=None),
    "team a string": lambda p: p.update(team="T111", user={"id": 5}),
    "value a list": lambda p: p["actions"][0].update(value=["echo never"]),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_click_is_acknowledged_with_one_warning(echo_bot, change, caplog):
    caplog.set_level(logging.DEBUG)
    payload = load_block_actions("echo never", response_url=echo_bot.slack.response_url())
    change(payload)
    caplog.clear()
    await click(echo_bot, payload)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert not [r for r in caplog.records if r.exc_info] and "Traceback" not in caplog.text
    assert echo_bot.seen == [] and await echo_bot.activity() == {}
    assert not echo_bot.slack.calls_to(RESPONSE_URL)


@pytest.mark.parametrize("payload", ["not json", "{", "[1, 2]", ""])
async def test_click_whose_payload_is_not_json_is_acknowledged_with_one_warning(
    http_bot, payload, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    await click(http_bot, payload)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert not [r for r in caplog.records if r.exc_info] and "Traceback" not in caplog.text
    assert http_bot.seen == [] and await http_bot.activity() == {}


async def test_click_not_stored_in_time_is_not_acknowledged_nor_lost(http_bot):
    """The database does not answer: 503, so the click is not taken as done; it is stored
    and handled once the database is back, and a redelivery changes nothing."""
    gate = StoringGate(http_bot.app)
    http_bot.adapter.ack_seconds = 0
    url = http_bot.slack.response_url("slow")
    payload = load_block_actions("echo late", response_url=url)
    delivery = asyncio.create_task(
        post_signed(http_bot.adapter.url, encode_payload(payload), FORM, SECRET)
    )
    await gate.blocked.wait()
    assert (await delivery)[0] == 503
    http_bot.adapter.ack_seconds = ACK_SECONDS
    gate.open()
    await http_bot.app.persisted()
    await click(http_bot, payload)
    assert [r["text"] for r in http_bot.slack.responses_to("slow")] == ["echo from W111: late"]


# --- round trip through the real core ----------------------------------------------------------


@pytest.fixture
async def full_bot(settings, slack, socket_server, transport):
    """Every feature's handlers, plus `echo`."""
    running = await echo_bot_for(settings, slack, socket_server, transport, True).start()
    yield running
    await running.stop()


async def test_pressing_a_drawn_button_runs_its_command_for_the_presser(full_bot):
    """Convener posts buttons; Grace presses one in the channel, Ada one in her direct chat:
    each gets the answer the command would give had they typed it, only to them."""
    adapter, slack = full_bot.adapter, full_bot.slack
    actions = [Action("What can you do?", "help"), Action("Echo", "echo 12 not my topic")]
    posted = await adapter.send(PRACTICE, "Stuck? Press a button.", actions=actions)
    help_button, echo_button = posted_buttons(slack.calls_to("chat.postMessage")[0])

    for button, token in ((help_button, "grace-help"), (echo_button, "grace-echo")):
        await click(
            full_bot,
            load_block_actions(
                button["value"],
                button["action_id"],
                source="bolt-python",
                user_id="W222",
                message_ts=posted.message_id,
                response_url=slack.response_url(token),
                label=button["text"]["text"],
            ),
        )
    (helped,) = slack.responses_to("grace-help")
    assert helped["response_type"] == "ephemeral"
    assert helped["text"].startswith("Here is what you can ask me:")
    assert "• `help [command]`" in helped["text"]
    assert slack.responses_to("grace-echo")[0]["text"] == "echo from W222: 12 not my topic"

    dm = await adapter.send_dm(ADA, "Need the list?", actions=[Action("Help", "help")])
    (button,) = posted_buttons(slack.calls_to("chat.postMessage")[-1])
    await click(
        full_bot,
        load_block_actions(
            button["value"],
            button["action_id"],
            channel_id=dm.channel.id,
            channel={"id": dm.channel.id, "name": "directmessage"},
            message_ts=dm.message_id,
            response_url=slack.response_url("ada-dm"),
        ),
    )
    answer = slack.calls_to("chat.postMessage")[-1].params  # in a direct chat: a message
    assert answer["channel"] == "DW111" and "blocks" not in answer
    assert answer["text"].startswith("Here is what you can ask me:")
    kinds = await full_bot.activity()
    assert sorted(kinds.values()) == ["command", "command", "command"]
    assert all(event_id.startswith("act:") for event_id in kinds)


# --- permalink ---------------------------------------------------------------------------------


async def test_permalink(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = await adapter.send(PRACTICE, "A question")
    reply = await adapter.send(PRACTICE, "An answer", thread_id=root.message_id)
    seconds, fraction = root.message_id.split(".")
    assert await adapter.permalink(PRACTICE, root.message_id) == (
        f"https://convener-test.slack.com/archives/C111/p{seconds}{fraction}"
    )
    threaded = await adapter.permalink(PRACTICE, reply.message_id)
    assert threaded is not None
    assert threaded.endswith(f"?thread_ts={root.message_id}&cid=C111")
    (call, _) = slack.calls_to("chat.getPermalink")
    assert (call.params["channel"], call.params["message_ts"]) == ("C111", root.message_id)

    slack.api_error_next("chat.getPermalink", "channel_not_found")
    assert await adapter.permalink(ChannelRef("slack", "C404"), root.message_id) is None
    assert await adapter.permalink(PRACTICE, "not a ts") is None  # message_not_found
    slack.fail_next("chat.getPermalink", status=500, retry_after=None, times=3)
    assert await adapter.permalink(PRACTICE, root.message_id) is None
    slack.set_response("chat.getPermalink", {"ok": True, "channel": "C111"})  # no link
    assert await adapter.permalink(PRACTICE, root.message_id) is None


async def test_permalink_is_none_when_slack_cannot_be_reached(settings, caplog):
    async with FakeSlackWebAPI() as gone:
        base_url = gone.base_url  # the port is free again once it stops
    unreachable = settings.model_copy(
        update={"slack_bot_token": "xoxb-test", "slack_api_url": base_url}
    )
    adapter = SlackAdapter(unreachable)
    assert await adapter.permalink(PRACTICE, "1610261659.001400") is None
    assert "Traceback" not in caplog.text


def test_fixture_is_slacks_documented_click():
    """The documented example, unchanged but for what `load_block_actions` sets."""
    payload = load_block_actions("help")
    assert payload["type"] == "block_actions" and payload["api_app_id"] == "AABA1ABCD"
    assert payload["actions"][0]["type"] == "button" and json.dumps(payload)
