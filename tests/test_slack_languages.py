"""Languages on Slack end to end, over signed HTTP against the local Web API with Slack's real
payloads: a newcomer whose `users.info` locale is fr-FR is welcomed in French without
choosing; a channel set to Portuguese gets an event announcement in Portuguese, buttons
included; a Portuguese member's ephemeral replies in that channel are Portuguese too."""

from __future__ import annotations

import pytest

from adapters.slack.text import to_mrkdwn
from bot import i18n, members
from bot.i18n import _
from bot.types import UserRef
from handlers import welcome
from tests.slack_fake import (
    DELETE,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    load_event,
    load_slash_command,
)
from tests.test_slack_actions import posted_buttons
from tests.test_slack_adapter import SlackBot

pytestmark = pytest.mark.slack


@pytest.fixture
async def socket_server():
    async with FakeSocketModeServer() as server:
        yield server


@pytest.fixture
async def slack(socket_server):
    users = {"W111": "Ada", "W222": "Grace Hopper", "UFAC": "Fatima"}
    async with FakeSlackWebAPI(users=users, socket_mode=socket_server) as fake:
        fake.add_channel("C111", "practice")
        fake.add_user("W444", "Amélie", locale="fr-FR")
        yield fake


@pytest.fixture
async def bot(settings, slack, socket_server):
    running = await SlackBot(settings, slack, socket_server, "http").start()
    yield running
    await running.stop()


def posts(slack: FakeSlackWebAPI, channel: str) -> list[dict]:
    return [c.params for c in slack.calls_to("chat.postMessage") if c.params["channel"] == channel]


def mrkdwn(said, language: str) -> str:
    return to_mrkdwn(i18n.render(said, language))


async def test_a_french_locale_is_welcomed_in_french_without_choosing(bot, settings):
    slack = bot.slack
    await bot.deliver(load_event("member_joined_channel.bolt-python", user="W444"))
    french = welcome.render(None, "Amélie", settings.community_name, "#practice", "fr")
    english = welcome.render(None, "Amélie", settings.community_name, "#practice", "en")
    assert mrkdwn(french, "fr") != mrkdwn(english, "en")
    sent = [p["text"] for p in posts(slack, "DW444")]
    assert sent and sent[0].startswith(mrkdwn(french, "fr"))
    assert not any(mrkdwn(english, "en").splitlines()[0] in text for text in sent)
    info = [c for c in slack.calls_to("users.info") if c.params.get("user") == "W444"]
    assert info and all(str(c.params.get("include_locale")).lower() in ("1", "true") for c in info)


async def test_a_portuguese_channel_and_member(bot):
    slack = bot.slack
    url = slack.response_url
    await bot.command(load_slash_command("channel language pt", user_id="UFAC",
                                         channel_id="C111", response_url=url("fac-1")))  # fmt: skip
    (answer,) = slack.responses_to("fac-1")
    assert answer["response_type"] == "ephemeral"
    await bot.command(load_slash_command(
        'event add 2031-03-05 18:00 Africa/Nairobi "Deep dive: property tax"',
        user_id="UFAC", channel_id="C111", response_url=url("fac-2"),
    ))  # fmt: skip
    announcement = next(p for p in posts(slack, "C111") if "Deep dive: property tax" in p["text"])
    portuguese = i18n.translations("pt").gettext("📅 **Event #{id}: {title}**")
    assert portuguese != "📅 **Event #{id}: {title}**"
    assert (
        to_mrkdwn(portuguese.format(id=1, title="Deep dive: property tax")) in announcement["text"]
    )
    call = next(c for c in slack.calls_to("chat.postMessage") if c.params is announcement)
    labels = [b["text"]["text"] for b in posted_buttons(call)]
    assert labels == [
        i18n.render(_("I'll come"), "pt"), i18n.render(_("Maybe"), "pt"),
        i18n.render(_("Can't come"), "pt"),
    ]  # fmt: skip
    assert labels != ["I'll come", "Maybe", "Can't come"]

    await bot.command(load_slash_command("profile language pt", user_id="W111",
                                         channel_id="C111", response_url=url("ada-1")))  # fmt: skip
    await bot.command(load_slash_command("help", user_id="W111", channel_id="C111",
                                         response_url=url("ada-2")))  # fmt: skip
    (help_answer,) = slack.responses_to("ada-2")
    assert help_answer["response_type"] == "ephemeral"
    heading = i18n.render(_("Here is what you can ask me:"), "pt")
    assert heading != "Here is what you can ask me:"
    assert help_answer["text"].startswith(to_mrkdwn(heading))
    await bot.command(load_slash_command("rsvp 1 perhaps", user_id="W111", channel_id="C111",
                                         response_url=url("ada-3")))  # fmt: skip
    (refused,) = slack.responses_to("ada-3")
    assert "Usage" not in refused["text"]
    assert to_mrkdwn(i18n.render(_("Usage: `{usage}`", usage="rsvp <id> [yes|no|maybe]"),
                                 "pt")) in refused["text"]  # fmt: skip


async def test_a_member_first_seen_posting_starts_in_their_locale(bot):
    bot.slack.add_user("W555", "Inês", locale="pt-BR")
    await bot.deliver(load_event("message_channel.bolt-python", text="Olá a todos", user="W555",
                                 ts="1772442000.000500", blocks=DELETE))  # fmt: skip
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        member = await members.find(session, UserRef("slack", "W555"))
    assert member is not None and member.language == "pt"
    await bot.command(load_slash_command("help", user_id="W555", channel_id="C111",
                                         response_url=bot.slack.response_url("ines")))  # fmt: skip
    (answer,) = bot.slack.responses_to("ines")
    assert answer["text"].startswith(to_mrkdwn(i18n.render(_("Here is what you can ask me:"),
                                                            "pt")))  # fmt: skip
