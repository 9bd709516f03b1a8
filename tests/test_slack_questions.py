"""Questions (and prompts) on Slack end to end: Slack's real payloads over signed HTTP
(and Socket Mode), through the real core and handlers, answered through the local Web API;
the buttons drawn on the question's thread and in the expert's direct message are pressed
as Slack sends clicks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.models import PromptRun, Question
from handlers.prompts import service as prompts
from handlers.reports.period import parse_period
from handlers.reports.queries import prompt_figures
from tests.slack_fake import (
    DELETE,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    load_block_actions,
    load_event,
    load_slash_command,
)
from tests.test_slack_actions import click, posted_buttons
from tests.test_slack_adapter import SlackBot

pytestmark = pytest.mark.slack

QUESTION = "How do other cities plan a multi-year capital budget?"


@pytest.fixture
async def socket_server():
    async with FakeSocketModeServer() as server:
        yield server


@pytest.fixture
async def slack(socket_server):
    users = {"W111": "Ada", "W222": "Grace Hopper", "W333": "Kofi", "UFAC": "Fatima"}
    async with FakeSlackWebAPI(users=users, socket_mode=socket_server) as fake:
        fake.add_channel("C111", "practice")
        yield fake


@pytest.fixture(params=["http", "socket"])
def transport(request) -> str:
    return request.param


@pytest.fixture
async def bot(settings, slack, socket_server, transport):
    running = await SlackBot(settings, slack, socket_server, transport).start()
    yield running
    await running.stop()


def posts(slack: FakeSlackWebAPI, channel: str) -> list[dict]:
    return [c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == channel]


def ts_of(slack: FakeSlackWebAPI, channel: str, needle: str) -> str:
    """The ts of the last message the bot posted in `channel` whose text holds `needle`."""
    return [
        ts for (where, ts), message in slack.messages.items()
        if where == channel and needle in (message.get("text") or "")
    ][-1]  # fmt: skip


def call_for(slack: FakeSlackWebAPI, params: dict):
    return next(c for c in slack.calls_to("chat.postMessage") if c.params is params)


async def test_a_question_is_routed_answered_and_solved_with_buttons(bot):
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
    await bot.command(
        load_slash_command(
            QUESTION, command="/ask", user_id="W111", response_url=bot.slack.response_url()
        )
    )

    root, thread = posts(slack, "C111")[-2:]
    assert "Question #1" in root["text"] and QUESTION in root["text"]
    assert "Ada" in root["text"] and root.get("thread_ts") is None
    root_ts = ts_of(slack, "C111", QUESTION)
    assert thread["thread_ts"] == root_ts and "Question #1" in thread["text"]
    assert "budgeting" in thread["text"]
    solved_button, _, _ = posted_buttons(call_for(slack, thread))
    assert solved_button["value"] == "solved 1"

    expert_dm = posts(slack, "DW222")[-1]
    assert QUESTION in expert_dm["text"] and "Ada" in expert_dm["text"]
    assert f"p{root_ts.replace('.', '')}" in expert_dm["text"]  # the permalink to the thread
    buttons = [b["value"] for b in posted_buttons(call_for(slack, expert_dm))]
    assert buttons == ["decline 1", "decline 1 not my topic"]

    await bot.deliver(
        load_event(
            "message_channel.bolt-python",
            text="We phase it over three years.",
            user="W222",
            ts="1772442000.000100",
            thread_ts=root_ts,
            blocks=DELETE,
        )
    )
    await bot.command(
        load_slash_command("questions mine", user_id="W111", response_url=bot.slack.response_url())
    )
    told = posts(slack, "DW111")[-1]
    assert "Grace Hopper answered your question #1" in told["text"]

    await click(
        bot,
        load_block_actions(
            solved_button["value"],
            solved_button["action_id"],
            user_id="W111",
            message_ts=thread["thread_ts"],
            response_url=slack.response_url("ada-solved"),
        ),
    )
    (answer,) = slack.responses_to("ada-solved")
    assert answer["text"] == "Marked question #1 solved, thanks to Grace Hopper."
    assert answer["response_type"] == "ephemeral"
    assert "Question #1 is solved, thanks to Grace Hopper" in posts(slack, "C111")[-1]["text"]
    async with bot.app.db.sessions() as session:
        question = await session.scalar(select(Question))
    assert question.status == "solved" and question.first_response_at is not None


async def test_the_experts_not_my_topic_button_passes_it_on(bot):
    slack = bot.slack
    await bot.command(
        load_slash_command(
            "topic add budgeting", user_id="UFAC", response_url=bot.slack.response_url()
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
    await bot.command(
        load_slash_command(
            QUESTION, command="/ask", user_id="W111", response_url=bot.slack.response_url()
        )
    )
    dm_call = call_for(slack, posts(slack, "DW222")[-1])
    _, not_my_topic = posted_buttons(dm_call)
    await click(
        bot,
        load_block_actions(
            not_my_topic["value"],
            not_my_topic["action_id"],
            user_id="W222",
            channel_id="DW222",
            channel={"id": "DW222", "name": "directmessage"},
            message_ts=ts_of(slack, "DW222", "decline 1"),
            response_url=slack.response_url("grace"),
        ),
    )
    answer = posts(slack, "DW222")[-1]["text"]  # in a direct chat the answer is a message
    assert "told the facilitators about #1" in answer
    assert "No answer" not in answer
    fatima = posts(slack, "DUFAC")[-1]["text"]
    assert "Question #1 from Ada" in fatima and "Every expert asked has passed" in fatima


async def test_a_scheduled_prompt_is_posted_once_and_a_thread_reply_is_a_response(bot):
    """Prompts ride on the same adapter: posted once in the right channel, and a reply in the
    prompt's thread counts as a response."""
    slack = bot.slack
    prompt = "What is one revenue idea your city tried this year?"
    await bot.command(
        load_slash_command(
            f"add {prompt}",
            command="/prompt",
            user_id="UFAC",
            response_url=bot.slack.response_url(),
        )
    )
    await bot.command(
        load_slash_command(
            "schedule monday 09:00 UTC",
            command="/prompt",
            user_id="UFAC",
            response_url=bot.slack.response_url(),
        )
    )
    slot = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ctx = bot.app.services()
    assert await prompts.post_slot(ctx, 1, slot) is not None
    assert await prompts.post_slot(ctx, 1, slot) is None  # a catch-up, or another replica
    await bot.handled()
    assert [p["text"] for p in posts(slack, "C111")] == [prompt]
    async with bot.app.db.sessions() as session:
        first = await session.scalar(select(PromptRun))
    assert first.message_id == ts_of(slack, "C111", prompt)

    await bot.deliver(
        load_event(
            "message_channel.bolt-python",
            text="We tried a tourism levy.",
            user="W111",
            ts="1772442000.000200",
            thread_ts=first.message_id,
            blocks=DELETE,
        )
    )
    await bot.app.activity.flush()
    period = parse_period([], date.today(), "UTC", default_days=365)
    async with bot.app.db.engine.connect() as conn:
        figures = await conn.run_sync(prompt_figures, period)
    assert figures["runs"] == 1 and figures["responses"] == 1 and figures["responders"] == 1


async def test_an_event_shows_its_time_in_each_readers_terms(bot):
    await bot.command(
        load_slash_command(
            'event add 2031-03-05 18:00 Africa/Nairobi "Deep dive"',
            user_id="UFAC",
            response_url=bot.slack.response_url(),
        )
    )
    (announcement,) = posts(bot.slack, "C111")
    at = int(datetime(2031, 3, 5, 15, 0, tzinfo=UTC).timestamp())
    assert (
        f"<!date^{at}^{{date_short_pretty}} at {{time}}|Wed 05 Mar 2031 18:00"
        in (announcement["text"])
    )
