"""A direct chat a member opened with Convener is their direct chat, against a real Synapse
(tests/matrix_homeserver.py): opened the way Element opens one (`createRoom` with
`is_direct: true`, preset `trusted_private_chat`, encrypted, the bot invited; `m.direct`
written on the member's side only: element-web src/utils/direct-messages.ts and
matrix-js-sdk's createRoom), a `!report` typed there gets the file in that same chat, no new
room, also after a restart. A room the bot's own `m.direct` lists is used as well, and a
direct room someone else has come into is not used any more. The report's answer says where
the file is, on every platform.

Nothing here sleeps: each member's client syncs until what it waits for arrives."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from nio import JoinResponse, RoomCreateResponse, RoomEncryptedFile, RoomPreset

from adapters.matrix.adapter import ENCRYPTION_STATE
from adapters.matrix.sync import direct_inviter
from bot.types import UserRef
from tests import test_matrix_adapter as base
from tests import test_matrix_e2e as e2e
from tests.matrix_homeserver import Homeserver
from tests.test_matrix_adapter import Bot, Person, is_text

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = pytest.mark.one_database

homeserver, world = base.homeserver, e2e.world  # an encrypted room of alice's, she facilitates
PERIOD = "2026-03-01 to 2026-03-31"


async def rooms_of(hs: Homeserver, person: Person) -> tuple[set[str], set[str]]:
    """(rooms joined, rooms invited to) of the member, as the homeserver has them."""
    token = person.client.access_token
    joined = await asyncio.to_thread(hs.api, "GET", "/_matrix/client/v3/joined_rooms", None, token)
    synced = await asyncio.to_thread(hs.api, "GET", "/_matrix/client/v3/sync", None, token)
    return set(joined["joined_rooms"]), set(synced.get("rooms", {}).get("invite", {}))


async def open_direct_chat(person: Person, bot_id: str, encrypted: bool = True) -> str:
    """A direct chat as Element opens one, with `m.direct` on the member's side."""
    created = await person.client.room_create(
        is_direct=True,
        preset=RoomPreset.trusted_private_chat,
        invite=[bot_id],
        initial_state=[ENCRYPTION_STATE] if encrypted else [],
    )
    assert isinstance(created, RoomCreateResponse), created
    path = f"/_matrix/client/v3/user/{quote(person.user_id)}/account_data/m.direct"
    body = f'{{"{bot_id}": ["{created.room_id}"]}}'
    headers = {"Authorization": f"Bearer {person.client.access_token}"}
    answer = await person.client.send("PUT", path, body, headers=headers)
    assert answer.status == 200
    return created.room_id


def bots_m_direct(hs: Homeserver, bot: Bot) -> dict:
    path = f"/_matrix/client/v3/user/{quote(bot.settings.matrix_user_id)}/account_data/m.direct"
    return hs.api("GET", path, access_token=bot.adapter.client.access_token)


async def report_in(person: Person, room_id: str, seen: set[str]) -> tuple[str, str]:
    """Type `!report` in the room; (room of the file, room of the answer), new ones."""
    await person.say(room_id, "!report")
    where, file = await person.wait_for(
        lambda _r, e: isinstance(e, RoomEncryptedFile) and e.event_id not in seen
    )
    told, answer = await person.wait_for(
        lambda _r, e: "is above" in getattr(e, "body", "") and e.event_id not in seen
    )
    seen |= {file.event_id, answer.event_id}
    assert file.body.startswith("engagement-") and e2e.decrypted(answer)
    return where, told


@pytest.mark.matrix
async def test_report_in_the_direct_chat_the_member_opened_stays_there(world):
    alice, bot, bot_id, hs = world["alice"], world["bot"], world["bot_id"], world["hs"]
    dm = await open_direct_chat(alice, bot_id)
    await bot.wait_until(lambda: dm in bot.adapter.client.rooms)
    assert bot.adapter._direct[alice.user_id] == dm
    await alice.sync(0)  # she sees the bot joined: her room key goes to its device
    before = await rooms_of(hs, alice)
    assert before == ({world["room"], dm}, set())
    seen: set[str] = set()
    assert await report_in(alice, dm, seen) == (dm, dm)
    assert await rooms_of(hs, alice) == before  # no room made, none offered
    assert bots_m_direct(hs, bot) == {alice.user_id: [dm]}

    await bot.stop()
    again = Bot(hs, bot_id, "bot-password", world["database_url"])
    again.settings.facilitators = alice.user_id
    world["bot"] = again
    await again.start()
    assert again.adapter._direct == {alice.user_id: dm}
    assert await report_in(alice, dm, seen) == (dm, dm)
    assert await rooms_of(hs, alice) == before


@pytest.mark.matrix
async def test_a_direct_room_someone_else_came_into_is_not_used(world):
    alice, bot, bot_id, hs = world["alice"], world["bot"], world["bot_id"], world["hs"]
    carol = Person(hs, f"carol{world['tag']}")
    world["people"].append(carol)
    dm = await open_direct_chat(alice, bot_id, encrypted=False)
    await bot.wait_until(lambda: bot.adapter._direct.get(alice.user_id) == dm)
    await alice.client.room_invite(dm, carol.user_id)
    assert isinstance(await carol.client.join(dm), JoinResponse)
    await bot.wait_until(lambda: carol.user_id in bot.adapter.client.rooms[dm].users)
    user = UserRef("matrix", alice.user_id, "alice")
    sent = await bot.adapter.send_dm(user, "Only for you")
    assert sent.channel.id not in (dm, world["room"])
    found, _ = await alice.wait_for(is_text("Only for you"))
    assert found == sent.channel.id == bot.adapter._direct[alice.user_id]
    await carol.sync(0)
    assert "Only for you" not in carol.texts_from(bot_id)


@pytest.mark.matrix
async def test_a_room_the_bots_m_direct_lists_is_used(world):
    """Another client of the bot's account (an operator's Element, say) listed a room with
    just the bot and the member in `m.direct`; a room with a third person it lists is not
    taken."""
    alice, bot, bot_id, hs = world["alice"], world["bot"], world["bot_id"], world["hs"]
    bob = Person(hs, f"bob{world['tag']}")
    world["people"].append(bob)
    just_us = await alice.client.room_create(invite=[bot_id])
    crowded = await bob.client.room_create(invite=[bot_id, alice.user_id])
    assert isinstance(await alice.client.join(crowded.room_id), JoinResponse)

    def alice_in(room_id: str) -> bool:
        room = bot.adapter.client.rooms.get(room_id)
        return room is not None and alice.user_id in room.users

    await bot.wait_until(lambda: alice_in(just_us.room_id) and alice_in(crowded.room_id))
    assert alice.user_id not in bot.adapter._direct and bob.user_id not in bot.adapter._direct
    path = f"/_matrix/client/v3/user/{quote(bot_id)}/account_data/m.direct"
    listed = {alice.user_id: [just_us.room_id], bob.user_id: [crowded.room_id]}
    await asyncio.to_thread(hs.api, "PUT", path, listed, bot.adapter.client.access_token)
    await bot.wait_until(lambda: alice.user_id in bot.adapter._direct)
    assert bot.adapter._direct == {alice.user_id: just_us.room_id}
    sent = await bot.adapter.send_dm(UserRef("matrix", alice.user_id), "Found you")
    assert sent.channel.id == just_us.room_id


def test_only_an_invite_marked_direct_names_who_opened_a_direct_chat():
    bot = "@convener:example.org"

    def invite(content: dict, sender: str = "@amina:example.org", key: str = bot) -> list:
        """The invite state as nio gives it: a member event's content out of its source."""
        source = {"type": "m.room.member", "state_key": key, "sender": sender}
        member = SimpleNamespace(source=source, content={"membership": "invite", **content})
        return [SimpleNamespace(source={"type": "m.room.create", "content": {}}), member]

    assert direct_inviter(invite({"is_direct": True}), bot) == "@amina:example.org"
    raw = {"type": "m.room.member", "state_key": bot, "sender": "@amina:example.org",
           "content": {"membership": "invite", "is_direct": True}}  # fmt: skip
    assert direct_inviter([SimpleNamespace(source=raw)], bot) == "@amina:example.org"
    assert direct_inviter(invite({}), bot) is None
    assert direct_inviter(invite({"is_direct": "true"}), bot) is None
    assert direct_inviter(invite({"is_direct": True}, sender=bot), bot) is None
    assert direct_inviter(invite({"is_direct": True}, sender="amina"), bot) is None
    assert direct_inviter(invite({"is_direct": True}, key="@other:example.org"), bot) is None
    assert direct_inviter([SimpleNamespace(source=None)], bot) is None


async def test_the_report_answer_says_where_the_file_is(bot):
    await bot.dm("coord", "!report 2026-03-01 2026-03-31")
    assert bot.last_reply_to("coord") == f"The report for {PERIOD} is above."
    [file_sent] = [s for s in bot.platform.sent if s.file is not None]
    assert file_sent.channel == bot.platform.sent[-1].channel  # the answer, below the file
    await bot.say("coord", "!report 2026-03-01 2026-03-31")
    assert bot.last_reply_to("coord") == f"I sent you the report for {PERIOD} as a direct message."
