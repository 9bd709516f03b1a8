"""The Matrix adapter and the core's actions and permalinks: Matrix has no buttons, so `send`
and `send_dm` post exactly the text they are given (against a real Synapse,
tests/matrix_homeserver.py), and `permalink` is a matrix.to link (pure checks, no homeserver).

Nothing here sleeps: a member's client syncs until the message it waits for arrives."""

from __future__ import annotations

import inspect
import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from nio import MessageDirection, RoomMessagesResponse

from adapters.matrix import MatrixAdapter
from adapters.matrix.text import to_html
from bot.platform import Platform
from bot.settings import Settings
from bot.types import Action, ChannelRef, UserRef
from tests import test_matrix_adapter as base

homeserver, world = base.homeserver, base.world  # the fixtures, shared

TEXT = "Three members asked about **municipal bonds**: type `!experts bonds` to see who knows."
LABEL = "Show-bond-experts-4f1c"  # appears nowhere in TEXT: if it reaches the room, it leaked
ACTIONS = (Action(LABEL, "experts bonds"), Action("Later-4f1c", "help"))


async def bot_messages(person: base.Person, room_id: str) -> list[dict]:
    """The raw `m.room.*` message events the bot sent in a room, oldest first (every kind,
    not only m.text: a follow-up carrying the buttons would show up here too)."""
    response = await person.client.room_messages(
        room_id, start=person.since, direction=MessageDirection.back, limit=100
    )
    assert isinstance(response, RoomMessagesResponse), response
    sources = [event.source for event in reversed(response.chunk)]
    return [s for s in sources if s.get("sender") != person.user_id and "state_key" not in s]


async def check_exactly_the_text(
    world, room_id: str, event_id: str, msgtype: str = "m.notice"
) -> None:
    """The room holds the sent event as one message of `msgtype` with exactly the text,
    then the sentinel the test sent after it, and nothing else from the bot mentions the
    actions."""
    alice, adapter = world["alice"], world["bot"].adapter
    channel = ChannelRef("matrix", room_id)
    sentinel = await adapter.send(channel, "sentinel")
    await alice.wait_for(lambda _r, e: e.event_id == sentinel.message_id)
    sent = await bot_messages(alice, room_id)
    ours = [s for s in sent if s["event_id"] == event_id]
    assert len(ours) == 1
    assert ours[0]["type"] == "m.room.message"
    assert ours[0]["content"] == {
        "msgtype": msgtype,
        "body": TEXT,
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(TEXT),
        "m.mentions": {},
    }
    after = [s["event_id"] for s in sent[sent.index(ours[0]) + 1 :]]
    assert after == [sentinel.message_id]  # no follow-up message for the buttons
    assert not [s for s in sent if LABEL in json.dumps(s)]


@pytest.mark.matrix
async def test_send_with_actions_posts_exactly_the_text(world):
    alice, adapter, room = world["alice"], world["bot"].adapter, world["room"]
    channel = ChannelRef("matrix", room, "#Budgeting")
    sent = await adapter.send(channel, TEXT, actions=ACTIONS)
    assert sent.text == TEXT and sent.channel == channel and sent.thread_id is None
    await alice.wait_for(lambda _r, e: e.event_id == sent.message_id)
    await check_exactly_the_text(world, room, sent.message_id)
    link = await adapter.permalink(channel, sent.message_id)
    assert matrix_to_parts(link) == (room, sent.message_id, ["localhost"])


@pytest.mark.matrix
async def test_send_in_a_thread_with_positional_actions(world):
    alice, adapter, room = world["alice"], world["bot"].adapter, world["room"]
    root = await alice.say(room, "Who has issued a green bond?")
    sent = await adapter.send(ChannelRef("matrix", room), TEXT, root, ACTIONS)
    _, event = await alice.wait_for(lambda _r, e: e.event_id == sent.message_id)
    assert event.body == TEXT and sent.thread_id == root
    relation = event.source["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root


@pytest.mark.matrix
async def test_send_dm_with_actions_posts_exactly_the_text(world):
    alice, adapter = world["alice"], world["bot"].adapter
    user = UserRef("matrix", alice.user_id, "alice")
    sent = await adapter.send_dm(user, TEXT, actions=ACTIONS)
    room_id, event = await alice.wait_for(lambda _r, e: e.event_id == sent.message_id)
    assert room_id == adapter._direct[alice.user_id] == sent.channel.id != world["room"]
    assert sent.private_to == user and sent.channel.is_direct and event.body == TEXT
    await check_exactly_the_text(world, room_id, sent.message_id, "m.text")  # it asks: notify
    again = await adapter.send_dm(user, "and positionally", ACTIONS)  # the same direct room
    assert again.channel.id == room_id


# Permalinks and the protocol: no homeserver -----------------------------------------------


def matrix_to_parts(link: str | None) -> tuple[str, str, list[str]]:
    """(room id, event id, via servers) of a matrix.to link, as a client decodes it: split
    the fragment on `/` first, then percent-decode each part."""
    assert link is not None
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "matrix.to", "/")
    path, _, query = parts.fragment.partition("?")
    assert path.startswith("/")
    room, event = path[1:].split("/")
    return unquote(room), unquote(event), parse_qs(query).get("via", [])


def adapter(user_id: str = "@convener:example.org") -> MatrixAdapter:
    settings = Settings(
        _env_file=None, matrix_homeserver="http://127.0.0.1:1", matrix_user_id=user_id
    )
    return MatrixAdapter(settings)


@pytest.mark.parametrize(
    ("room_id", "event_id", "link"),
    [
        (  # room version 1 and 2 event ids carry a server name
            "!somewhere:example.org",
            "$1531497316352799BevdV:example.org",
            "https://matrix.to/#/!somewhere%3Aexample.org/%241531497316352799BevdV%3Aexample.org"
            "?via=example.org",
        ),
        (  # room version 3: hashes in standard base64, with `/`, `+` and no server
            "!abcDEF:matrix.example.com",
            "$Woq2vwLy8mNukf7e8oz61GxT5gpMmr/asNojhb56+wU",
            "https://matrix.to/#/!abcDEF%3Amatrix.example.com/"
            "%24Woq2vwLy8mNukf7e8oz61GxT5gpMmr%2FasNojhb56%2BwU?via=matrix.example.com",
        ),
        (  # room version 4 and later: URL-safe base64; a server name with a port
            "!room:localhost:8448",
            "$Woq2vwLy8mNukf7e8oz61GxT5gpMmr_asNojhb56-wU",
            "https://matrix.to/#/!room%3Alocalhost%3A8448/"
            "%24Woq2vwLy8mNukf7e8oz61GxT5gpMmr_asNojhb56-wU?via=localhost%3A8448",
        ),
    ],
)
async def test_permalink_is_a_matrix_to_link(room_id, event_id, link):
    got = await adapter().permalink(ChannelRef("matrix", room_id, "#budgeting"), event_id)
    assert got == link
    server = room_id.partition(":")[2]
    assert matrix_to_parts(got) == (room_id, event_id, [server])


async def test_permalink_without_a_server_in_the_room_id_goes_via_the_bot_server():
    got = await adapter("@bot:city.example").permalink(ChannelRef("matrix", "!Hash_1-x"), "$e")
    assert got == "https://matrix.to/#/!Hash_1-x/%24e?via=city.example"


async def test_no_permalink_without_a_message_id():
    assert await adapter().permalink(ChannelRef("matrix", "!room:example.org"), "") is None


def test_the_adapter_keeps_the_platform_signatures():
    """`_outgoing` wraps `send` and `send_dm`; their signatures must still be the protocol's
    (the core passes `thread_id` and `actions` by position or by name)."""
    matrix = adapter()
    assert isinstance(matrix, Platform)
    for name in ("send", "send_dm", "permalink", "send_private", "send_file", "post_file",
                 "open_group"):  # fmt: skip
        ours = inspect.signature(getattr(MatrixAdapter, name)).parameters
        theirs = inspect.signature(getattr(Platform, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name
