"""Slack's Home tab end to end, over signed HTTP and over Socket Mode against the local Web
API: `app_home_opened` (Slack's documented event) publishes the member's home with
`views.publish` (their questions, events and calls, as Block Kit with Convener's buttons);
a change on it (a question routed to them) publishes it again; a click on one of its buttons
(Slack's `block_actions` from a view: no channel, no response_url) runs the same command as
typing it, answered in the member's direct chat."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.slack.events import translate_action, translate_event
from adapters.slack.home import MAX_BLOCKS, home_blocks
from adapters.slack.text import ACTION_PREFIX
from bot.activity import POSTING_KINDS
from bot.models import EventRsvp
from bot.types import Action, Home, HomeOpened, Item, Section
from tests import test_slack_adapter as base
from tests.slack_fake import (
    FakeSlackWebAPI,
    load_event,
    load_home_click,
    load_slash_command,
)
from tests.test_slack_actions import click
from tests.test_slack_adapter import SlackBot

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.slack, pytest.mark.one_database]

QUESTION = "How do other cities plan a multi-year capital budget? : budgeting"
SECOND = "Who has phased in a property tax reassessment? : budgeting"
EVENT = 'event add 2030-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'
CALL = 'call add 2030-03-20 "Peer review panel"'


# Slack's side and the running bot: test_slack_adapter's fixtures, shared
socket_server, slack, transport = base.socket_server, base.slack, base.transport
slack_bot = base.slack_bot


@pytest.fixture
def bot(slack_bot):
    return slack_bot


async def community(bot: SlackBot) -> None:
    """A topic, an expert (Grace), an event and a call; Ada asks a question routed to Grace."""
    for text in ("topic add budgeting: budget, multi-year", EVENT, CALL):
        await bot.command(
            load_slash_command(text, user_id="UFAC", response_url=bot.slack.response_url())
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


def opened(user_id: str) -> dict:
    """Slack's documented `app_home_opened`, for `user_id` (their DM channel, as Slack names
    it in the local Web API)."""
    return load_event("app_home_opened.docs-composed", user=user_id, channel=f"D{user_id}")


def view_text(view: dict) -> str:
    """Every text of a published view, and its buttons as `[label|command]`."""
    parts = []
    for block in view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", ()):
            if element.get("type") == "button":
                parts.append(f"[{element['text']['text']}|{element['value']}]")
            elif "text" in element:
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(view: dict) -> dict[str, str]:
    """command → action id of every button of a view."""
    return {
        element["value"]: element["action_id"]
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def publishes(slack: FakeSlackWebAPI, user_id: str) -> list[dict]:
    return [c.json() for c in slack.calls_to("views.publish") if c.params["user_id"] == user_id]


async def republish(bot: SlackBot) -> int:
    job = next(job for job in bot.app.router.jobs if job.id == "home")
    published = await job.func(bot.app.services())
    await bot.handled()
    return published


async def test_opening_the_home_tab_publishes_the_members_home(bot):
    await community(bot)
    await bot.deliver(opened("W111"))

    (ada,) = publishes(bot.slack, "W111")
    view = bot.slack.home_views["W111"]
    assert view["type"] == "home" and ada["view"]["type"] == "home"
    kinds = [block["type"] for block in view["blocks"]]
    assert set(kinds) <= {"header", "section", "actions", "context", "divider"}
    assert kinds[0] == "header" and "divider" in kinds
    text = view_text(view)
    for needle in (
        "Your profile", "Your open questions", "How do other cities plan a multi-year",
        "Upcoming events", "*#1 Deep dive: property tax*", "You haven't answered yet.",
        "Open calls", "*#1 Peer review panel*", "You haven't expressed interest yet.",
    ):  # fmt: skip
        assert needle in text, needle
    assert "Questions for you" not in text and "This week, beside last week" not in text
    pressed = buttons(view)
    assert {"solved 1", "form ask", "form profile", "rsvp 1 yes", "interest 1"} <= set(pressed)
    assert all(action_id.startswith(ACTION_PREFIX) for action_id in pressed.values())
    assert len(set(pressed.values())) == len(pressed)  # each button its own action id

    await bot.deliver(opened("W222"))
    grace = view_text(bot.slack.home_views["W222"])
    assert "Questions for you" in grace and "#1 from Ada" in grace
    assert "[I can't help|decline 1]" in grace and "[Not my topic|decline 1 not my topic]" in grace

    activity = await bot.activity()
    homes = [kind for event_id, kind in activity.items() if event_id.startswith("Ev")]
    assert homes and not set(homes) & set(POSTING_KINDS)  # opening the tab is not posting
    assert publishes(bot.slack, "UFAC") == []  # never opened: never published


async def test_a_change_on_the_home_publishes_it_again_once(bot):
    await community(bot)
    await bot.deliver(opened("W222"))
    assert len(publishes(bot.slack, "W222")) == 1
    assert await republish(bot) == 0  # nothing changed

    await bot.command(
        load_slash_command(
            SECOND, command="/ask", user_id="W111", response_url=bot.slack.response_url()
        )
    )
    await bot.command(
        load_slash_command(
            "profile city Accra", user_id="W222", response_url=bot.slack.response_url()
        )
    )
    assert await republish(bot) == 1  # two changes, one publish
    grace = view_text(bot.slack.home_views["W222"])
    assert "#2 from Ada" in grace and "Who has phased in a property tax" in grace
    assert "City: Accra" in grace
    assert await republish(bot) == 0
    assert len(publishes(bot.slack, "W222")) == 2
    assert publishes(bot.slack, "W111") == []  # Ada never opened hers


async def test_a_click_on_the_home_tab_runs_the_command(bot):
    await community(bot)
    await bot.deliver(opened("W111"))
    action_id = buttons(bot.slack.home_views["W111"])["rsvp 1 yes"]

    await click(bot, load_home_click("rsvp 1 yes", action_id, user_id="W111"))
    async with bot.app.db.sessions() as session:
        answers = list(await session.scalars(select(EventRsvp.answer)))
    assert answers == ["yes"]
    answer = [c.params for c in bot.slack.calls_to("chat.postMessage")][-1]
    assert answer["channel"] == "DW111"  # no channel on a view: the member's direct chat
    assert "You're coming to event #1" in answer["text"]

    assert await republish(bot) == 1
    assert "Your answer: you're coming." in view_text(bot.slack.home_views["W111"])


async def test_a_plain_members_forged_facilitator_clicks_are_refused(bot):
    """Buttons only facilitators see, clicked by a plain member who forged the payload: the
    same refusal as typing the command, and nothing happens (no digest, no form opened)."""
    await community(bot)
    await bot.deliver(opened("W111"))
    assert "digest" not in buttons(bot.slack.home_views["W111"])
    sent_before = len(bot.slack.calls_to("chat.postMessage"))

    await click(bot, load_home_click("digest", "convener:9", user_id="W111"))
    await click(bot, load_home_click("form event add", "convener:8", user_id="W111"))

    answers = [c.params for c in bot.slack.calls_to("chat.postMessage")][sent_before:]
    assert [a["channel"] for a in answers] == ["DW111", "DW111"]
    assert all(a["text"].startswith("Only facilitators can use") for a in answers), answers
    assert bot.slack.calls_to("views.open") == []


# the translation and the drawing, without the network ----------------------------------------


def test_app_home_opened_is_a_home_opened_event_only_for_the_home_tab():
    body = load_event("app_home_opened.docs-composed")
    event = translate_event(body)
    assert isinstance(event, HomeOpened)
    assert (event.user.id, event.channel.id, event.channel.is_direct) == (
        "U123ABC456", "D123ABC456", True,
    )  # fmt: skip
    assert event.event_id == body["event_id"]
    assert translate_event(load_event("app_home_opened.docs-composed", tab="messages")) is None


def test_a_click_on_a_view_is_answered_in_the_direct_chat():
    from datetime import UTC, datetime

    command = translate_action(load_home_click("decline 3", user_id="W111"), datetime.now(UTC))
    assert command is not None and command.text == "decline 3"
    assert (command.channel.id, command.channel.is_direct) == ("W111", True)
    assert command.reply_token is None


def test_a_long_home_stays_within_block_kits_limits():
    many = tuple(Item(f"item {n} " + "word " * 800, (Action("Go", f"go {n}"),)) for n in range(80))
    drawn = home_blocks(Home((Section("A" * 200, many, (), None),)))
    assert len(drawn) == MAX_BLOCKS
    assert len(drawn[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in drawn if b["type"] == "section")
