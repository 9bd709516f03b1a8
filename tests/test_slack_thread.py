"""`SlackAdapter.thread`: a thread's replies as Slack shows them now, read with
`conversations.replies` (following its cursor) from the local Web API of `tests/slack_fake.py`,
which answers in the documented shape from the bot's own posts and the messages a test says
people posted, edited or deleted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from adapters.slack import SlackAdapter
from adapters.slack.events import translate_reply
from bot.platform import Adapter, Platform
from bot.types import ChannelRef
from tests.slack_fake import FakeSlackWebAPI, FakeSocketModeServer, load_payload
from tests.test_slack_actions import echo_bot_for
from tests.test_slack_adapter import BOT, BOT_TOKEN

pytestmark = pytest.mark.slack

PRACTICE = ChannelRef("slack", "C111", "#practice")


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


@pytest.fixture
async def http_bot(settings, slack, socket_server):
    running = await echo_bot_for(settings, slack, socket_server, "http").start()
    yield running
    await running.stop()


def texts(replies) -> list[str]:
    return [reply.text for reply in replies]


def test_the_slack_adapter_is_a_platform(settings):
    adapter = SlackAdapter(settings.model_copy(update={"slack_bot_token": BOT_TOKEN}))
    assert isinstance(adapter, Platform)
    assert isinstance(adapter, Adapter)


async def test_replies_come_oldest_first_without_the_root(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "How do I read a budget?", ts="1700000000.000100")
    slack.add_reply("C111", root, "W222", "Start with the totals", ts="1700000100.000200")
    slack.add_reply("C111", root, "W111", "Thanks!", ts="1700000050.000300")  # earlier

    replies = await adapter.thread(PRACTICE, root)

    assert texts(replies) == ["Thanks!", "Start with the totals"]
    first, second = replies
    assert (first.message_id, first.user.id, first.user.name) == (
        "1700000050.000300",
        "W111",
        "Ada",
    )
    assert (second.user.id, second.user.name, second.user.is_bot) == ("W222", "Grace Hopper", False)
    assert second.ts == datetime.fromtimestamp(1700000100.0002, UTC)
    (call,) = slack.calls_to("conversations.replies")
    assert call.http_verb == "GET"
    assert (call.params["channel"], call.params["ts"], call.params["limit"]) == (
        "C111",
        root,
        "200",
    )
    assert "cursor" not in call.params


async def test_a_message_without_replies_is_an_empty_thread(http_bot):
    root = await http_bot.adapter.send(PRACTICE, "Anyone?")
    assert await http_bot.adapter.thread(PRACTICE, root.message_id) == []


async def test_an_edited_reply_shows_its_new_text_and_a_deleted_one_is_gone(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Where are the 2024 figures?")
    kept = slack.add_reply("C111", root, "W222", "In the anual report")
    gone = slack.add_reply("C111", root, "W222", "Wrong link, ignore")
    slack.add_reply("C111", root, "W111", "Found them")
    slack.edit_message("C111", kept, "In the annual report, p. 12")
    slack.delete_message("C111", gone)

    replies = await adapter.thread(PRACTICE, root)

    assert texts(replies) == ["In the annual report, p. 12", "Found them"]
    assert gone not in [reply.message_id for reply in replies]


async def test_a_deleted_root_leaves_its_replies(http_bot):
    """Slack keeps a `tombstone` where a root with replies was; it is no reply."""
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Question")
    slack.add_reply("C111", root, "W222", "Answer")
    slack.delete_message("C111", root)
    assert texts(await adapter.thread(PRACTICE, root)) == ["Answer"]


async def test_bots_replies_are_marked(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Is the export ready?")
    await adapter.send(PRACTICE, "I'll check", thread_id=root)  # the bot itself
    slack.add_reply(  # an app's message: bot_id, no subtype
        "C111", root, "W999", "Export finished", bot_id="B999",
        bot_profile={"id": "B999", "name": "exporter"},
    )  # fmt: skip
    slack.add_reply(  # a classic bot: subtype bot_message, no user
        "C111", root, None, "Build passed", subtype="bot_message", bot_id="B0CI", username="ci"
    )
    slack.add_reply("C111", root, "W222", "Also sent to the channel", subtype="thread_broadcast")
    slack.add_reply("C111", root, "W222", "", subtype="channel_join")  # not a post

    replies = await adapter.thread(PRACTICE, root)

    assert texts(replies) == ["I'll check", "Export finished", "Build passed",
                              "Also sent to the channel"]  # fmt: skip
    own, app, classic, person = (reply.user for reply in replies)
    assert own == adapter.bot_user and own.id == BOT and own.is_bot and own.name == "convener"
    assert (app.id, app.name, app.is_bot) == ("W999", "exporter", True)
    assert (classic.id, classic.name, classic.is_bot) == ("B0CI", "ci", True)
    assert (person.id, person.name, person.is_bot) == ("W222", "Grace Hopper", False)
    # Bots' names are in their messages: only the person was looked up.
    assert [call.params["user"] for call in slack.calls_to("users.info")] == ["W222"]


async def test_mrkdwn_becomes_the_cores_markdown(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Budget question")
    slack.add_reply(
        "C111", root, "W222",
        "<@W111> see <https://example.org/budget|the budget> &amp; ask <!here> "
        "in <#C222|finance> &lt;soon&gt;\x07",
    )  # fmt: skip
    (reply,) = await adapter.thread(PRACTICE, root)
    assert reply.text == (
        "<@W111> see [the budget](https://example.org/budget) & ask @here in #finance <soon>"
    )


async def test_a_long_reply_is_cut_to_the_core_limit(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Paste the whole thing?")
    slack.add_reply("C111", root, "W222", "x" * 50_000)
    (reply,) = await adapter.thread(PRACTICE, root)
    assert len(reply.text) == 40_000


@pytest.mark.parametrize("root_on_every_page", [True, False])
async def test_every_page_is_read(http_bot, root_on_every_page):
    adapter, slack = http_bot.adapter, http_bot.slack
    slack.root_on_every_page = root_on_every_page
    adapter.thread_page = 2
    root = await adapter.send(PRACTICE, "Count off")
    for n in range(1, 6):
        slack.add_reply("C111", root.message_id, "W111", f"reply {n}")

    replies = await adapter.thread(PRACTICE, root.message_id)

    assert texts(replies) == [f"reply {n}" for n in range(1, 6)]
    calls = slack.calls_to("conversations.replies")
    assert [call.params["limit"] for call in calls] == ["2", "2", "2"]
    assert "cursor" not in calls[0].params
    assert all(call.params["cursor"] for call in calls[1:])


async def test_a_very_long_thread_is_cut_with_a_warning(http_bot, caplog):
    adapter, slack = http_bot.adapter, http_bot.slack
    adapter.thread_page, adapter.max_thread_replies = 2, 3
    root = slack.add_message("C111", "W111", "Vote")
    for n in range(1, 8):
        slack.add_reply("C111", root, "W222", f"vote {n}")

    with caplog.at_level(logging.WARNING, logger="adapters.slack.adapter"):
        replies = await adapter.thread(PRACTICE, root)

    assert texts(replies) == ["vote 1", "vote 2", "vote 3"]
    assert len(slack.calls_to("conversations.replies")) == 2
    assert "read only the first 3 replies" in caplog.text


async def test_an_unknown_person_has_no_name(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    root = slack.add_message("C111", "W111", "Hello?")
    slack.add_reply("C111", root, "W404", "Hi")  # users.info: user_not_found
    (reply,) = await adapter.thread(PRACTICE, root)
    assert (reply.user.id, reply.user.name) == ("W404", None)


async def test_api_errors_raise(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    with pytest.raises(SlackApiError) as raised:
        await adapter.thread(PRACTICE, "1700000000.000100")  # no such message
    assert raised.value.response["error"] == "thread_not_found"

    root = slack.add_message("C111", "W111", "Question")
    slack.add_reply("C111", root, "W222", "Answer")
    slack.api_error_next("conversations.replies", "missing_scope", needed="groups:history")
    with pytest.raises(SlackApiError):
        await adapter.thread(PRACTICE, root)

    # An error on a later page raises too: nothing half-read is returned.
    adapter.thread_page = 1
    slack.add_reply("C111", root, "W111", "Thanks")
    slack.set_response(
        "conversations.replies",
        lambda call: (
            {"ok": False, "error": "invalid_cursor"}
            if call.params.get("cursor")
            else slack._conversations_replies(call)
        ),
    )
    with pytest.raises(SlackApiError):
        await adapter.thread(PRACTICE, root)


async def test_raises_when_slack_cannot_be_reached(settings):
    async with FakeSlackWebAPI() as gone:
        base_url = gone.base_url  # the port is free again once it stops
    unreachable = settings.model_copy(
        update={"slack_bot_token": BOT_TOKEN, "slack_api_url": base_url}
    )
    with pytest.raises(aiohttp.ClientError):
        await SlackAdapter(unreachable).thread(PRACTICE, "1700000000.000100")


def test_the_documented_example_translates():
    """Slack's documented `conversations.replies` answer: the root left out, three replies."""
    (answer, _error) = load_payload("web_api_responses/conversations.replies.docs.json")
    root = answer["messages"][0]["ts"]
    replies = [translate_reply(message, root) for message in answer["messages"]]
    assert replies[0] is None
    assert [reply.text for reply in replies[1:]] == ["one island", "two island",
                                                     "three for the land"]  # fmt: skip
    assert all(reply.user.id == "U061F7AUR" and not reply.user.is_bot for reply in replies[1:])


@pytest.mark.parametrize(
    "message",
    [None, "text", [], {}, {"ts": {"a": 1}, "user": "W1"}, {"ts": "1.2"},
     {"ts": "1.2", "user": ["W1"]}, {"ts": "1.2", "user": "W1", "subtype": {"x": 1}},
     {"ts": "1.2", "user": "W1", "text": {"not": "text"}}],
)  # fmt: skip
def test_translate_reply_never_raises(message):
    reply = translate_reply(message, "1.1")
    assert reply is None or reply.text == ""


def test_translate_reply_drops_a_malformed_one_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="adapters.slack.events"):
        assert translate_reply({"ts": "1.2", "user": ["W1"], "text": "hi"}, "1.1") is None
    assert "malformed reply" in caplog.text
    assert translate_reply({"ts": "1.2", "user": "W1", "text": "hi"}, "1.1", "W1").user.is_bot
