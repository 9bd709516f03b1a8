"""Convener's messages on Matrix are notices with the spec's mentions (v1.11, "User and room
mentions"), against a real Synapse (tests/matrix_homeserver.py): replies arrive as `m.notice`
with an empty `m.mentions`; a message naming a member carries a pill and exactly that member
in `m.mentions`, and Synapse's push rules highlight it for them alone; a message naming
nobody notifies nobody, whatever names its text holds. Inbound, a pill to the bot that leads
a message (as Element writes a mention) addresses the bot, whatever name the pill shows; a
reply to the bot, which Element marks with the bot in `m.mentions`, does not.

The shapes members send are Element's: a pill is `<a href="https://matrix.to/#/@user:server">
name</a>` in `formatted_body` and the name in `body` (element-web src/editor/serialize.ts),
and `m.mentions` lists the pills' users and the replied-to sender (element-web
src/components/views/rooms/SendMessageComposer.tsx, attachMentions)."""

from __future__ import annotations

import asyncio

import pytest
from nio import Event as NioEvent
from nio import JoinResponse, MessageDirection, RoomMessageNotice, RoomMessagesResponse

from adapters.matrix import MatrixAdapter
from adapters.matrix.text import message_content, render
from bot.settings import Settings
from bot.types import Action, ChannelRef, Message, UserRef
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Person, is_text

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = pytest.mark.one_database

homeserver, world = base.homeserver, base.world  # the fixtures, shared
NOTIFICATIONS = "/_matrix/client/v3/notifications?limit=100"


async def raw_event(person: Person, room_id: str, event_id: str) -> dict:
    """The event as the homeserver serves it to `person` (`/messages`, back from the
    member's last sync)."""
    response = await person.client.room_messages(
        room_id, start=person.since, direction=MessageDirection.back, limit=100
    )
    assert isinstance(response, RoomMessagesResponse), response
    [source] = [e.source for e in response.chunk if e.event_id == event_id]
    return source


async def highlights(hs, person: Person, until: str) -> dict[str, bool]:
    """Event id -> highlighted, of the member's notifications (Synapse's push rules as they
    ran when each event was stored), once the one for `until` is listed."""
    async with asyncio.timeout(20):
        while True:
            answer = await asyncio.to_thread(
                hs.api, "GET", NOTIFICATIONS, access_token=person.client.access_token
            )
            found = {
                n["event"]["event_id"]: any(
                    a.get("set_tweak") == "highlight" and a.get("value", True) is True
                    for a in n["actions"]
                    if isinstance(a, dict)
                )
                for n in answer["notifications"]
            }
            if until in found:
                return found
            await person.sync()  # returns as soon as something new arrives


def test_content_names_exactly_the_users_it_pills():
    bot = "@convener:example.org"
    text = (
        "Thanks @amina:example.org and [Bo](https://matrix.to/#/%40bo%3Aexample.org), again "
        "@amina:example.org. Not `@carol:example.org`, nor mail@example.org, nor @room, "
        f"nor Amina, nor {bot}."
    )
    content = message_content(text, bot)
    assert content["msgtype"] == "m.text"  # a notice would notify nobody, mention or not
    assert content["m.mentions"] == {"user_ids": ["@bo:example.org", "@amina:example.org"]}
    assert content["body"] == text
    html = content["formatted_body"]
    assert html.count('<a href="https://matrix.to/#/@amina:example.org">') == 2
    assert "<code>@carol:example.org</code>" in html and "mail@example.org" in html
    plain = message_content("Amina and @room: the digest. **Soon**", bot)
    assert plain == {
        "msgtype": "m.notice",
        "body": "Amina and @room: the digest. **Soon**",
        "format": "org.matrix.custom.html",
        "formatted_body": "Amina and @room: the digest. <strong>Soon</strong>",
        "m.mentions": {},
    }
    assert render("see https://matrix.to/#/@zed:x.org.")[1] == ["@zed:x.org"]


@pytest.mark.matrix
async def test_replies_arrive_as_notices_that_mention_nobody(world):
    alice, bot_id = world["alice"], world["bot_id"]
    await alice.say(world["room"], "!help")
    dm, reply = await alice.wait_for(is_text("Here is what you can ask me"))
    assert isinstance(reply, RoomMessageNotice) and reply.sender == bot_id
    content = (await raw_event(alice, dm, reply.event_id))["content"]
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {}
    assert "<code>help [command]</code>" in content["formatted_body"]


@pytest.mark.matrix
async def test_a_member_named_is_mentioned_and_notified_alone(world):
    alice, hs, adapter, room = world["alice"], world["hs"], world["bot"].adapter, world["room"]
    bob = Person(hs, f"bob{world['tag']}")
    carol = Person(hs, f"carol{world['tag']}")
    world["people"] += [bob, carol]
    await bob.client.set_displayname("Bob Mensah")
    for person in (bob, carol):
        await alice.client.room_invite(room, person.user_id)
        assert isinstance(await person.client.join(room), JoinResponse)
    channel = ChannelRef("matrix", room, "#Budgeting")
    nobody = await adapter.send(channel, "Bob Mensah and carol answered; @room, well done.")
    naming = await adapter.send(channel, f"{bob.user_id} answered question #3.")
    await bob.wait_for(lambda _r, e: e.event_id == naming.message_id)

    quiet = (await raw_event(bob, room, nobody.message_id))["content"]
    assert quiet["msgtype"] == "m.notice" and quiet["m.mentions"] == {}
    loud = (await raw_event(bob, room, naming.message_id))["content"]
    assert loud["m.mentions"] == {"user_ids": [bob.user_id]}
    assert f'<a href="https://matrix.to/#/{bob.user_id}">' in loud["formatted_body"]
    assert bob.user_id in loud["body"]

    for_bob = await highlights(hs, bob, naming.message_id)
    assert for_bob[naming.message_id] is True
    assert nobody.message_id not in for_bob  # a notice: no notification, name or @room
    for_carol = await highlights(hs, carol, naming.message_id)
    assert for_carol[naming.message_id] is False and nobody.message_id not in for_carol


@pytest.mark.matrix
async def test_a_direct_message_that_asks_to_act_notifies_and_others_do_not(world):
    """A routed question (buttons elsewhere) must reach the expert's phone: `m.text`, which
    the default one-to-one rule (`.m.rule.room_one_to_one`) notifies; a plain answer stays
    a notice, which `.m.rule.suppress_notices` silences."""
    alice, adapter = world["alice"], world["bot"].adapter
    member = UserRef("matrix", alice.user_id, "alice")
    quiet = await adapter.send_dm(member, "Saved: your city is Nairobi.")
    routed = await adapter.send_dm(
        member, "Question #4 is for you: who has phased in a property tax?",
        actions=[Action("I can't help", "decline 4")],
    )  # fmt: skip
    await alice.wait_for(lambda _r, e: e.event_id == routed.message_id)

    room = routed.channel.id
    assert quiet.channel.id == room
    asked = (await raw_event(alice, room, routed.message_id))["content"]
    assert asked["msgtype"] == "m.text" and asked["m.mentions"] == {}
    said = (await raw_event(alice, room, quiet.message_id))["content"]
    assert said["msgtype"] == "m.notice"


@pytest.mark.matrix
async def test_a_leading_pill_addresses_the_bot_and_a_reply_to_it_does_not(world):
    alice, bot, bot_id, room = world["alice"], world["bot"], world["bot_id"], world["room"]
    pill = f'<a href="https://matrix.to/#/{bot_id}">Facilitation Bot</a>'
    await alice.say(room, "Facilitation Bot: help", {
        "format": "org.matrix.custom.html", "formatted_body": f"{pill}: help",
        "m.mentions": {"user_ids": [bot_id]}})  # fmt: skip
    await alice.wait_for(is_text("Here is what you can ask me"))

    post = await bot.adapter.send(ChannelRef("matrix", room), "What did your city try this year?")
    await alice.say(room, "Thanks, that helped", {
        "format": "org.matrix.custom.html", "formatted_body": "Thanks, that helped",
        "m.relates_to": {"m.in_reply_to": {"event_id": post.message_id}},
        "m.mentions": {"user_ids": [bot_id]}})  # fmt: skip
    await alice.say(room, "Ask Facilitation Bot later", {
        "format": "org.matrix.custom.html", "formatted_body": f"Ask {pill} later",
        "m.mentions": {"user_ids": [bot_id]}})  # fmt: skip
    # The room's events are handled in order: once this is answered, the others were.
    await alice.say(room, "!help sentinel")
    await alice.wait_for(is_text("There is no command `sentinel`"))
    answers = alice.texts_from(bot_id)
    assert not [a for a in answers if "I don't know" in a or "Which command" in a]
    assert sum("Here is what you can ask me" in a for a in answers) == 1


def test_what_addresses_the_bot_and_what_is_not_a_command():
    """Translated as nio hands the events over (no homeserver): another bot's notice is no
    message at all; a leading pill to the bot addresses it, whatever name it shows, when
    `m.mentions` lists the bot; a reply that lists it does not, nor a pill further on."""
    bot = "@convener:localhost"
    adapter = MatrixAdapter(Settings(_env_file=None, matrix_user_id=bot))
    pill = f'<a href="https://matrix.to/#/{bot}">Facilitation Bot</a>'

    def translate(content: dict) -> Message | None:
        source = {"type": "m.room.message", "event_id": f"$e{len(repr(content))}",
                  "sender": "@amina:localhost", "origin_server_ts": 1_767_225_600_000,
                  "content": {"format": "org.matrix.custom.html", **content}}  # fmt: skip
        return adapter.translate("!room:localhost", None, NioEvent.parse_event(source))

    assert translate({"msgtype": "m.notice", "body": "!help"}) is None
    mentions = {"m.mentions": {"user_ids": [bot]}}
    led = translate({"msgtype": "m.text", "body": "Facilitation Bot: help",
                     "formatted_body": f"{pill}: help", **mentions})  # fmt: skip
    assert led.mentions_bot and led.text == "help"
    unlisted = translate({"msgtype": "m.text", "body": "Facilitation Bot: help",
                          "formatted_body": f"{pill}: help", "m.mentions": {}})  # fmt: skip
    assert not unlisted.mentions_bot and unlisted.text == "Facilitation Bot: help"
    replying = {"m.relates_to": {"m.in_reply_to": {"event_id": "$post"}}, **mentions}
    reply = translate({"msgtype": "m.text", "body": "Thanks", **replying})
    assert not reply.mentions_bot and reply.thread_id == "$post"
    later = translate({"msgtype": "m.text", "body": "Ask Facilitation Bot",
                       "formatted_body": f"Ask {pill}", **mentions})  # fmt: skip
    assert not later.mentions_bot
    by_id = translate({"msgtype": "m.text", "body": f"{bot} help"})
    assert by_id.mentions_bot and by_id.text == "help"


@pytest.mark.matrix
async def test_the_bots_notices_in_a_thread_are_read_as_the_bots(world):
    alice, adapter, room = world["alice"], world["bot"].adapter, world["room"]
    channel = ChannelRef("matrix", room, "#Budgeting")
    root = await alice.say(room, "Who has tried participatory budgeting?")
    ours = await adapter.send(channel, "Two members asked the same last month.", root)
    relation = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                "m.in_reply_to": {"event_id": root}}  # fmt: skip
    thread = {"m.relates_to": relation}
    theirs = await alice.say(room, "Seoul did, in 2012", thread)
    replies = await adapter.thread(channel, root)
    assert [(r.message_id, r.user.is_bot) for r in replies] == [
        (ours.message_id, True),
        (theirs, False),
    ]
