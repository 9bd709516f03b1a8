"""Forms on Slack, as modals, through the real adapter and core against the local Web API of
`tests/slack_fake.py`, with Slack's own payloads: a Home-tab button or a slash command opens
the modal with `views.open` at once (prefilled, in the member's language), and the
`view_submission` of it (over signed HTTP, and over Socket Mode) is answered within Slack's
3 s: field errors by block when a value does not fit (nothing stored), else `clear` once the
submission is stored, and the core runs the commands it stands for with their permission
checks.

Payload sources: `interactive/view_submission.bolt-python.json` (bolt-python's test of
https://api.slack.com/reference/interaction-payloads/views), `interactive/
block_actions_home.docs-composed.json` (a Home tab click), the slash command of bolt-python,
and the documented answers of `views.open`; errors as
https://api.slack.com/surfaces/modals#displaying_errors shows them. Recorded in
tests/fixtures/slack/SOURCES.json.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from adapters.slack.forms import CALLBACK_PREFIX, modal, read_submission
from bot.models import Event, Identity, Member, Question
from bot.types import FieldKind, FormField, FormView
from tests import test_slack_adapter as base
from tests.slack_fake import (
    encode_payload,
    interactive_envelope,
    load_home_click,
    load_slash_command,
    load_view_submission,
    post_signed,
)
from tests.test_slack_adapter import ACK_SECONDS, FORM, SECRET, SlackBot
from tests.test_slack_home import opened as home_opened
from tests.test_slack_home import republish, view_text

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.slack, pytest.mark.one_database]

SOON = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


# Slack's side and the running bot: test_slack_adapter's fixtures, shared
socket_server, slack, transport = base.socket_server, base.slack, base.transport
slack_bot, http_bot = base.slack_bot, base.http_bot


async def interact(bot: SlackBot, payload: dict) -> dict | None:
    """Deliver an interaction as Slack does (signed HTTP, or a Socket Mode envelope) and
    return the body of its acknowledgement (None when empty), once it is handled."""
    if bot.transport == "http":
        status, text = await post_signed(
            bot.adapter.url, encode_payload(payload), FORM, SECRET, timeout=ACK_SECONDS
        )
        assert status == 200
        answer = json.loads(text) if text else None
    else:
        envelope = interactive_envelope(payload)
        await bot.socket_server.send_envelope(envelope)
        ack = await bot.socket_server.wait_for_ack(envelope["envelope_id"], timeout=ACK_SECONDS)
        answer = ack.get("payload") or None
    await bot.handled()
    return answer


async def opened(bot: SlackBot) -> dict:
    """The modal last opened (`views.open`), as Slack answered it."""
    return list(bot.slack.views.values())[-1]


def blocks_of(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block for block in view["blocks"]}


async def member(bot: SlackBot, user_id: str) -> Member:
    async with bot.app.db.sessions() as session:
        return await session.scalar(
            select(Member).join(Identity).where(Identity.user_id == user_id)
        )


async def rows(bot: SlackBot, model) -> list:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(model))).all())


def dms_to(bot: SlackBot, user_id: str) -> list[str]:
    return [c.params["text"] for c in bot.slack.calls_to("chat.postMessage")
            if c.params["channel"] == f"D{user_id}"]  # fmt: skip


# --- the profile, from the Home tab ----------------------------------------------------------


async def test_home_button_opens_the_profile_prefilled_and_a_submission_saves_it(slack_bot):
    slack = slack_bot.slack
    for typed in ("expertise add budgeting", "profile city Nairobi",
                  "profile timezone Africa/Nairobi"):  # fmt: skip
        await slack_bot.command(load_slash_command(typed, response_url=slack.response_url()))
    click = load_home_click("form profile")
    assert await interact(slack_bot, click) is None  # acknowledged, nothing else to say
    (call,) = slack.calls_to("views.open")
    assert call.params["trigger_id"] == click["trigger_id"]  # opened at once, with its trigger
    view = await opened(slack_bot)
    assert view["callback_id"] == f"{CALLBACK_PREFIX}profile"
    assert view["title"]["text"] == "Your profile" and view["submit"]["text"] == "Save"
    blocks = blocks_of(view)
    assert blocks["city"]["element"]["initial_value"] == "Nairobi"
    assert blocks["city"]["element"]["max_length"] == 80
    zone = blocks["timezone"]["element"]
    assert zone["type"] == "static_select"
    assert zone["initial_option"]["value"] == "Africa/Nairobi"
    assert all(len(group["options"]) <= 100 for group in zone["option_groups"])
    offers = blocks["offers"]["element"]
    assert offers["type"] == "multi_static_select"
    assert [o["value"] for o in offers["initial_options"]] == ["budgeting"]
    assert blocks["offers+new"]["element"]["type"] == "plain_text_input"  # a new topic
    assert blocks["language"]["element"]["type"] == "static_select"
    assert "initial_value" not in blocks["org"]["element"]
    assert not slack.calls_to("chat.postMessage")  # the command was not run as typed

    submission = load_view_submission(view, {
        "city": "Mombasa", "org": "County of Mombasa", "offers": [],
        "offers+new": "procurement", "wants+new": "audit, transport",
    })  # fmt: skip
    assert await interact(slack_bot, submission) == {"response_action": "clear"}
    saved = await member(slack_bot, "W111")
    assert (saved.city, saved.org, saved.timezone) == ("Mombasa", "County of Mombasa",
                                                       "Africa/Nairobi")  # fmt: skip
    (answer,) = dms_to(slack_bot, "W111")  # from the Home tab: in the direct chat
    assert answer.splitlines() == [
        "Saved: your city is Mombasa.",
        "Saved: your organisation is County of Mombasa.",
        "Removed from your profile: budgeting.",
        "Added to what you can help with: procurement (new topic: procurement).",
        "Added to what you want to learn: audit, transport (new topic: audit, transport).",
    ]
    activity = await slack_bot.activity()
    assert activity[f"form:{view['id']}"] == "command"

    assert await interact(slack_bot, submission) == {"response_action": "clear"}  # again
    assert len(dms_to(slack_bot, "W111")) == 1  # handled once


async def test_an_invalid_submission_gets_field_errors_and_changes_nothing(http_bot):
    slack = http_bot.slack
    await http_bot.command(load_slash_command("profile city Nairobi",
                                              response_url=slack.response_url()))  # fmt: skip
    await interact(http_bot, load_home_click("form profile"))
    view = await opened(http_bot)
    forged = load_view_submission(view, {
        "city": "Mombasa", "timezone": "Mars/Olympus_Mons", "language": "xx",
    })  # fmt: skip
    answer = await interact(http_bot, forged)
    assert answer is not None and answer["response_action"] == "errors"
    errors = answer["errors"]
    assert set(errors) == {"timezone", "language"}  # by block id
    assert errors["timezone"].startswith("`Mars/Olympus_Mons` is not a timezone I know.")
    assert errors["language"].startswith("`xx` is not a language I speak.")
    assert (await member(http_bot, "W111")).city == "Nairobi"
    assert "form:" not in " ".join(await http_bot.activity())  # not even recorded
    assert not dms_to(http_bot, "W111")

    fixed = load_view_submission(view, {"city": "Mombasa", "timezone": "Africa/Nairobi"})
    assert await interact(http_bot, fixed) == {"response_action": "clear"}
    assert (await member(http_bot, "W111")).timezone == "Africa/Nairobi"


async def test_a_bad_date_is_an_error_on_the_date(http_bot):
    slack = http_bot.slack
    url = slack.response_url("fac")
    await http_bot.command(load_slash_command("event add", user_id="UFAC", response_url=url))
    assert not slack.responses_to("fac")  # the modal opened instead of the typed answer
    view = await opened(http_bot)
    assert view["callback_id"] == f"{CALLBACK_PREFIX}event add"
    for day, error in (("2020-01-06", "is in the past"), ("2026-02-30", "is not a date")):
        answer = await interact(http_bot, load_view_submission(view, {
            "title": "Deep dive", "date": day, "time": "15:00",
        }, user_id="UFAC"))  # fmt: skip
        assert answer is not None and list(answer["errors"]) == ["date"]
        assert error in answer["errors"]["date"]
    assert await rows(http_bot, Event) == []


# --- asking ------------------------------------------------------------------------------------


async def test_ask_without_text_opens_the_modal_and_its_submission_asks_and_routes(slack_bot):
    slack = slack_bot.slack
    await slack_bot.command(load_slash_command("topic add budgeting", user_id="UFAC",
                                               response_url=slack.response_url()))  # fmt: skip
    await slack_bot.command(load_slash_command("expertise add budgeting", user_id="W222",
                                               response_url=slack.response_url()))  # fmt: skip
    url = slack.response_url("ask")
    await slack_bot.command(load_slash_command("", "/ask", response_url=url))
    assert not slack.responses_to("ask")  # no "What is your question?": the modal instead
    view = await opened(slack_bot)
    assert view["callback_id"] == f"{CALLBACK_PREFIX}ask"
    assert json.loads(view["private_metadata"]) == {"channel": "C111"}  # where to answer
    blocks = blocks_of(view)
    assert blocks["question"]["element"]["multiline"] is True
    assert [o["value"] for o in blocks["topics"]["element"]["options"]] == ["budgeting"]

    question = "How do other cities phase a property revaluation?"
    submission = load_view_submission(view, {"question": question, "topics": ["budgeting"]})
    assert await interact(slack_bot, submission) == {"response_action": "clear"}
    (asked,) = await rows(slack_bot, Question)
    assert asked.text == question
    posts = [c.params for c in slack.calls_to("chat.postMessage")]
    root = next(p for p in posts if p["channel"] == "C111" and question in p["text"])
    assert "Question #1" in root["text"]
    assert any("budgeting" in p["text"] for p in posts if p.get("thread_ts"))
    assert any(question in text for text in dms_to(slack_bot, "W222"))  # routed to the expert


# --- permissions -------------------------------------------------------------------------------


async def test_a_plain_members_forged_event_add_is_refused_and_changes_nothing(http_bot):
    slack = http_bot.slack
    url = slack.response_url("kofi")
    await http_bot.command(load_slash_command("event add", response_url=url))
    (typed,) = slack.responses_to("kofi")  # no modal for a plain member: the typed answer
    assert typed["text"] == "Only facilitators can use `event add`."
    assert not slack.calls_to("views.open")

    # the facilitators' modal, submitted by a plain member who forged it
    view = {**modal(FormView("event add", "Announce an event", "Announce", (
        FormField("title", FieldKind.SHORT, "Title"),
        FormField("date", FieldKind.DATE, "Day"),
        FormField("time", FieldKind.TIME, "Time"),
    )), "C111"), "id": "VFORGED1"}  # fmt: skip
    forged = load_view_submission(view, {"title": "Forged", "date": SOON, "time": "15:00"})
    assert await interact(http_bot, forged) == {"response_action": "clear"}
    (refusal,) = slack.ephemeral
    assert (refusal["channel"], refusal["user"]) == ("C111", "W111")
    assert refusal["text"] == typed["text"]  # the same permission reply
    assert await rows(http_bot, Event) == []
    assert not [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C111"]


async def test_the_facilitators_event_add_modal_announces_in_its_channel(http_bot):
    slack = http_bot.slack
    await http_bot.command(load_slash_command("event add", user_id="UFAC",
                                              response_url=slack.response_url()))  # fmt: skip
    view = await opened(http_bot)
    assert blocks_of(view)["zone"]["element"]["initial_option"]["value"] == "UTC"
    submission = load_view_submission(view, {
        "title": "Deep dive: property tax", "date": SOON, "time": "15:00",
        "zone": "Africa/Nairobi",
    }, user_id="UFAC")  # fmt: skip
    assert await interact(http_bot, submission) == {"response_action": "clear"}
    (event,) = await rows(http_bot, Event)
    assert event.title == "Deep dive: property tax" and event.timezone == "Africa/Nairobi"
    announced = [c.params for c in slack.calls_to("chat.postMessage")
                 if c.params["channel"] == "C111"]  # fmt: skip
    assert "Event #1: Deep dive: property tax" in announced[0]["text"]
    assert date.fromisoformat(SOON).strftime("%d %b %Y") in announced[0]["text"]


async def test_every_form_opens_within_block_kits_limits(http_bot):
    """Each form, opened by a facilitator with `/convener form <name>`, is a modal the local
    Web API accepts (it refuses what Slack refuses: long titles, too many options...)."""
    slack = http_bot.slack
    for typed in ("topic add budgeting", f'call add {SOON} "Peer review panel"'):
        await http_bot.command(load_slash_command(typed, user_id="UFAC",
                                                  response_url=slack.response_url()))  # fmt: skip
    names = sorted(http_bot.app.router.forms)
    assert names == ["ask", "call add", "event add", "interest", "onboarding", "profile"]
    for name in names:
        await http_bot.command(load_slash_command(f"form {name}", user_id="UFAC",
                                                  response_url=slack.response_url()))  # fmt: skip
    opened_views = list(slack.views.values())
    assert [v["callback_id"].removeprefix(CALLBACK_PREFIX) for v in opened_views] == names
    interest = blocks_of(opened_views[names.index("interest")])["call"]["element"]
    assert [o["text"]["text"] for o in interest["options"]] == ["#1 Peer review panel"]


async def test_the_local_web_api_refuses_what_slack_refuses(http_bot):
    client = http_bot.adapter.client
    long = "A title far longer than Slack's twenty-four characters"
    choices = tuple((str(n), f"Option {n}") for n in range(150))
    drawn = modal(FormView("x", long, "Save", (
        FormField("pick", FieldKind.SELECT, "Pick", choices=choices, initial="120"),
        FormField("some", FieldKind.MULTI, "Some", choices=choices, initial=("149",)),
    )))  # fmt: skip
    assert drawn["title"]["text"] == long[:23] + "…"  # cut to fit, not refused
    pick, some = (block["element"] for block in drawn["blocks"])
    assert len(pick["options"]) == 100 and pick["options"][0] == pick["initial_option"]
    assert len(some["options"]) == 100 and some["options"][0]["value"] == "149"  # chosen first
    await client.views_open(trigger_id="t1", view=drawn)
    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id="t1", view=drawn)
    assert reused.value.response["error"] == "exchanged_trigger_id"
    too_many = {**pick, "options": [o for n, o in enumerate(some["options"] * 2) if n < 101]}
    for bad in ({**drawn, "title": {"type": "plain_text", "text": long}},
                {**drawn, "blocks": [{**drawn["blocks"][0], "element": too_many}]}):  # fmt: skip
        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id=f"t{id(bad)}", view=bad)
        assert refused.value.response["error"] == "invalid_arguments"


# --- reading -----------------------------------------------------------------------------------


def test_the_fixture_is_read_as_slack_sends_it():
    """bolt-python's payload, unchanged but for the callback id of one of Convener's."""
    payload = load_view_submission({"callback_id": f"{CALLBACK_PREFIX}ask"}, {})
    payload["view"]["state"] = {"values": {"question": {"maBWU": {
        "type": "plain_text_input", "value": "test"}}}}  # fmt: skip
    found = read_submission(payload)
    assert found is not None and found.form == "ask" and found.event_id == "form:V111"
    assert found.user.id == "W111" and found.user.name == "primary-owner"
    assert found.values == {"question": "test"}
    assert found.channel_id is None  # "This is for you!" names no channel
    assert read_submission({**payload, "view": {**payload["view"], "callback_id": "x"}}) is None
    for junk in (None, 1, "x", [], {"type": "view_submission"}):
        assert read_submission(junk) is None


async def test_the_home_tabs_edit_button_saves_the_profile_and_the_tab_shows_it(slack_bot):
    """The whole path a member takes on Slack: the Home tab, its Edit button, the modal, a
    submission; the tab is then published again with the new profile."""
    await slack_bot.deliver(home_opened("W111"))
    assert "Nairobi" not in view_text(slack_bot.slack.home_views["W111"])
    assert await interact(slack_bot, load_home_click("form profile")) is None
    view = await opened(slack_bot)
    submission = load_view_submission(view, {"city": "Nairobi", "org": "City of Nairobi"})
    assert await interact(slack_bot, submission) == {"response_action": "clear"}

    assert await republish(slack_bot) == 1
    tab = view_text(slack_bot.slack.home_views["W111"])
    assert "Nairobi" in tab and "City of Nairobi" in tab
