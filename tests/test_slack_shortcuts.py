"""Message shortcuts on Slack end to end: Slack's real `message_action` payload
(tests/fixtures/slack/interactive/message_action.bolt-python.json: bolt-python's
`tests/scenario_tests_async/test_shortcut.py` `message_shortcut_body`; fields as documented at
https://api.slack.com/reference/interaction-payloads/shortcuts), as a signed form
`payload=<json>` over HTTP and an `interactive` envelope over Socket Mode, through the real
core and handlers, answered through the local Web API: *Ask the experts* creates a question
on the message and routes it, its author withdraws it with the button they are sent, and
*Add to the library* is a facilitator's only."""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.shortcuts import translate_shortcut
from bot.models import KnowledgeEntry, Member, Question
from bot.types import ChannelRef, Shortcut, UserRef
from tests import test_slack_adapter as base
from tests.slack_fake import (
    RESPONSE_URL,
    FakeSlackWebAPI,
    load_block_actions,
    load_payload,
    load_slash_command,
)
from tests.test_slack_actions import click, posted_buttons
from tests.test_slack_adapter import SlackBot

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.slack, pytest.mark.one_database]

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BOT = "W23456789"
QUESTION = "How do other cities phase a multi-year budget reform?"


def message_action(
    callback_id: str,
    *,
    user_id: str = "W111",
    channel_id: str = "C111",
    response_url: str | None = None,
    **message: Any,
) -> dict:
    """Slack's real `message_action` payload for `callback_id` chosen by `user_id` on a
    message in `channel_id`; `message` replaces fields of the message it was chosen on (its
    `ts` is `message_ts` too). `trigger_id` and `action_ts` are fresh on every call."""
    payload = load_payload("interactive/message_action.bolt-python.json")
    payload.update(callback_id=callback_id, trigger_id=f"{time.time():.0f}.{uuid.uuid4().hex}",
                   action_ts=f"{time.time():.6f}")  # fmt: skip
    payload["user"]["id"] = user_id
    payload["channel"]["id"] = channel_id
    payload["message"].update(message)
    payload["message_ts"] = payload["message"]["ts"]
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


# --- the payload, translated -------------------------------------------------------------------


def test_the_real_payload_is_the_shortcut_chosen_on_its_message():
    payload = load_payload("interactive/message_action.bolt-python.json")
    event = translate_shortcut(payload, NOW, BOT)
    assert isinstance(event, Shortcut)
    assert (event.name, event.event_id, event.ts) == ("test-shortcut", "sc:111.222.xxx", NOW)
    assert event.user == UserRef("slack", "W111") and event.user.name == "test-test"
    assert event.channel == ChannelRef("slack", "C111") and event.channel.name == "#dev"
    assert event.reply_token == "https://hooks.slack.com/app/T111/111/xxx"
    chosen = event.message
    assert chosen is not None and chosen.user == UserRef("slack", "W111")
    assert (chosen.text, chosen.message_id, chosen.thread_id) == (
        "<@W222> test", "1583636382.000300", None,
    )  # fmt: skip
    assert chosen.channel == event.channel and not chosen.user.is_bot
    assert translate_shortcut(payload, NOW, BOT) == event  # the same choice, the same event


def test_a_reply_a_bots_post_and_what_is_no_post():
    reply = translate_shortcut(
        message_action("ask_experts", ts="1583636390.000400", thread_ts="1583636382.000300"),
        NOW,
    )
    assert reply.message.thread_id == "1583636382.000300" and reply.message.is_reply
    convener = translate_shortcut(message_action("ask_experts", user=BOT, bot_id="B1"), NOW, BOT)
    assert convener.message.user.is_bot and convener.message.user.id == BOT
    no_ts = message_action("ask_experts")
    del no_ts["message"]["ts"]
    assert translate_shortcut(no_ts, NOW).message.message_id == "1583636382.000300"  # message_ts
    notice = translate_shortcut(message_action("ask_experts", subtype="channel_join"), NOW)
    assert notice is not None and notice.message is None  # chosen on a join notice
    in_dm = message_action("ask_experts", channel_id="D0ABC")
    in_dm["channel"]["name"] = "directmessage"
    dm = translate_shortcut(in_dm, NOW)
    assert dm.channel.is_direct and dm.channel.name is None and dm.message.channel.is_direct


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.pop("trigger_id"),
        lambda p: p.update(callback_id=["ask_experts"]),
        lambda p: p.pop("user"),
        lambda p: p["user"].update(id=5),
        lambda p: p.update(channel="C111"),
        lambda p: p.update(type="shortcut"),
    ],
)
def test_a_malformed_payload_is_dropped_with_one_warning(change, caplog):
    payload = message_action("ask_experts")
    change(payload)
    assert translate_shortcut(payload, NOW) is None
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    assert not caplog.records[0].exc_info


def test_translate_never_raises():
    rng = random.Random(5)
    junk = [None, 1, True, "x", "", [], {}, [1], {"id": 3}, "\x00\u202e"]
    for _ in range(500):
        payload = message_action("ask_experts")
        for key in rng.sample(["user", "channel", "message", "response_url", "message_ts"], 2):
            payload[key] = rng.choice(junk)
        payload["message"] = payload["message"] if rng.random() < 0.5 else rng.choice(junk)
        translate_shortcut(payload, NOW)
    for junk_payload in junk:
        assert translate_shortcut(junk_payload, NOW) is None


# --- through the adapter and the core ----------------------------------------------------------


# Slack's side and the running bot: test_slack_adapter's fixtures, shared
socket_server, slack, transport = base.socket_server, base.slack, base.transport
slack_bot = base.slack_bot


@pytest.fixture
def bot(slack_bot):
    return slack_bot


async def rows(bot: SlackBot, model, *where) -> list:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


def posts(slack: FakeSlackWebAPI, channel: str) -> list[dict]:
    return [c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == channel]


async def test_ask_the_experts_makes_adas_message_a_routed_question(bot):
    slack = bot.slack
    await bot.command(
        load_slash_command(
            "topic add budgeting: budget, multi-year",
            user_id="UFAC",
            response_url=bot.slack.response_url(),
        )
    )
    await bot.command(
        load_slash_command(
            "add budgeting",
            command="/expertise",
            user_id="W222",
            response_url=bot.slack.response_url(),
        )
    )
    ts = slack.add_message("C111", "W111", QUESTION)
    chosen = message_action("ask_experts", user_id="UFAC", response_url=slack.response_url("fac"),
                            user="W111", text=QUESTION, ts=ts)  # fmt: skip
    await click(bot, chosen)

    [question] = await rows(bot, Question)
    [ada] = await rows(bot, Member, Member.id == question.asker_id)
    assert ada.display_name == "Ada"  # asked on her behalf; Fatima chose it
    assert (question.message_id, question.text, question.status) == (ts, QUESTION, "open")
    [heading] = [p for p in posts(slack, "C111") if p.get("thread_ts") == ts]
    assert "Question #1" in heading["text"] and "budgeting" in heading["text"]
    [routed] = posts(slack, "DW222")  # Grace, who offers the topic
    assert QUESTION in routed["text"]
    [told] = posts(slack, "DW111")
    assert "Fatima" in told["text"] and "question #1" in told["text"]
    [button] = posted_buttons(next(c for c in slack.calls_to("chat.postMessage")
                                   if c.params is told))  # fmt: skip
    assert button["value"] == "withdraw 1"
    [answer] = slack.responses_to("fac")
    assert answer["response_type"] == "ephemeral" and "Sent Ada's message" in answer["text"]
    assert (await bot.activity())[f"sc:{chosen['trigger_id']}"] == "command"

    await click(bot, load_block_actions(  # Ada presses the button she was sent
        "withdraw 1", button["action_id"], user_id="W111", channel_id="DW111",
        response_url=slack.response_url("ada"),
    ))  # fmt: skip
    assert (await rows(bot, Question))[0].status == "withdrawn"
    assert "I've told the member who was asked" in posts(slack, "DW111")[-1]["text"]  # her chat
    assert "was withdrawn" in posts(slack, "DW222")[-1]["text"]


async def test_a_shortcut_delivered_again_is_handled_once(bot):
    slack = bot.slack
    ts = slack.add_message("C111", "W111", QUESTION)
    chosen = message_action("ask_experts", user_id="W222", response_url=slack.response_url("g"),
                            user="W111", text=QUESTION, ts=ts)  # fmt: skip
    await click(bot, chosen)
    await click(bot, chosen)
    assert len(await rows(bot, Question)) == 1
    assert len(slack.responses_to("g")) == 1
    again = message_action("ask_experts", user_id="W222", response_url=slack.response_url("g2"),
                           user="W111", text=QUESTION, ts=ts)  # fmt: skip
    await click(bot, again)  # chosen anew: the message is a question now
    assert "already question #1" in slack.responses_to("g2")[0]["text"]
    assert len(await rows(bot, Question)) == 1


async def test_a_facilitator_adds_a_thread_to_the_library(bot):
    slack = bot.slack
    ts = slack.add_message("C111", "W111", "Our city phased its reform over three cycles.")
    slack.add_reply("C111", ts, "W222", "We did it in two, with a pilot district.")
    text = "Our city phased its reform over three cycles."
    chosen = message_action("add_to_library", user_id="UFAC",
                            response_url=slack.response_url("fac"), user="W111", text=text,
                            ts=ts)  # fmt: skip
    await click(bot, chosen)
    [entry] = await rows(bot, KnowledgeEntry)
    assert entry.message_id == ts and entry.title.startswith("Our city phased")
    assert "Grace Hopper: We did it in two, with a pilot district." in entry.body
    assert slack.calls_to("conversations.replies")[0].params["ts"] == ts
    assert "kept in the library (#1)" in [p for p in posts(slack, "C111")
                                          if p.get("thread_ts") == ts][-1]["text"]  # fmt: skip
    assert "Kept in the library as #1" in slack.responses_to("fac")[0]["text"]


async def test_a_plain_members_forged_add_to_the_library_is_refused(bot):
    slack = bot.slack
    ts = slack.add_message("C111", "W111", "Our city phased its reform over three cycles.")
    slack.add_reply("C111", ts, "W222", "We did it in two.")
    chosen = message_action("add_to_library", user_id="W222",
                            response_url=slack.response_url("grace"), user="W111",
                            text="Our city phased its reform.", ts=ts)  # fmt: skip
    slack.clear_calls()
    await click(bot, chosen)
    [answer] = slack.responses_to("grace")
    assert answer == {"text": "Only facilitators can use `Add to the library`.",
                      "response_type": "ephemeral"}  # fmt: skip
    assert await rows(bot, KnowledgeEntry) == []
    assert not slack.calls_to("chat.postMessage") and not slack.calls_to("conversations.replies")


async def test_chosen_in_someone_elses_direct_chat_it_is_answered_there_privately(bot):
    slack = bot.slack
    chosen = message_action("ask_experts", user_id="W222", channel_id="DOTHERS",
                            response_url=slack.response_url("dm"), user="W111",
                            text=QUESTION, ts="1583636382.000300")  # fmt: skip
    chosen["channel"]["name"] = "directmessage"
    await click(bot, chosen)
    [answer] = slack.responses_to("dm")  # ephemeral; Convener is not in that chat
    assert "messages in channels" in answer["text"]
    assert not posts(slack, "DOTHERS") and await rows(bot, Question) == []


async def test_a_malformed_shortcut_is_acknowledged_with_one_warning(bot, caplog):
    caplog.set_level(logging.DEBUG)
    chosen = message_action("ask_experts", response_url=bot.slack.response_url("x"))
    del chosen["trigger_id"]
    caplog.clear()
    await click(bot, chosen)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "message shortcut" in warnings[0].getMessage()
    assert await bot.activity() == {} and not bot.slack.calls_to(RESPONSE_URL)
