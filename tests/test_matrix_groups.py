"""Group conversations and files in rooms on Matrix, against a real Synapse
(tests/matrix_homeserver.py): `open_group` makes a private room named after the members with
each of them invited, kept under its key so that asking again (also after a restart) gives
the same room; `post_file` lands as `m.file` in the room (in a thread when asked); what the
members say in the room reaches the core as a channel's activity; and an introduction end
to end: the room made by `!intros now`, the follow-up answered by a reply and a reaction."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nio import RoomEncryptedFile, RoomGetStateEventResponse, RoomMessageFile
from nio.crypto import decrypt_attachment
from sqlalchemy import select

from adapters.matrix.outbound import in_thread
from bot.models import Activity, Identity, IntroGroup, IntroMember, IntroRound
from bot.types import ChannelRef, OutboundFile, UserRef
from handlers.intros import service
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Bot, Person, is_text
from tests.test_matrix_e2e import EncryptedPerson, decrypted

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.matrix, pytest.mark.one_database]

homeserver, world = base.homeserver, base.world  # the fixtures, shared
ICS = OutboundFile("event.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", mimetype="text/calendar")


def member(person: Person, name: str) -> UserRef:
    return UserRef("matrix", person.user_id, name)


async def joined(person: Person, room_id: str) -> None:
    """Until the member has accepted the invite to the room (their client joins invites)."""
    async with asyncio.timeout(20):
        while room_id not in person.client.rooms:
            await person.sync()


async def kind_of(bot: Bot, event_id: str) -> str | None:
    async def stored() -> str | None:
        async with bot.app.db.sessions() as session:
            return await session.scalar(select(Activity.kind).where(Activity.event_id == event_id))

    return await bot.wait_for_stored(stored)


async def test_a_group_is_a_room_both_are_invited_to_and_the_same_for_its_key(world):
    alice, bot, hs = world["alice"], world["bot"], world["hs"]
    bob = Person(hs, f"bob{world['tag']}")
    world["people"].append(bob)
    pair = [member(alice, "Alice"), member(bob, "Bob")]

    group = await bot.adapter.open_group(pair, "round-1:alice-bob")
    assert group.name == "#Convener: Alice & Bob" and not group.is_direct
    assert await bot.adapter.open_group(pair, "round-1:alice-bob") == group
    other = await bot.adapter.open_group(pair, "round-2:alice-bob")
    assert other.id != group.id

    for person in (alice, bob):  # each is invited (and joins, as the test client does)
        await joined(person, group.id)
    state = await alice.client.room_get_state_event(group.id, "m.room.join_rules")
    assert isinstance(state, RoomGetStateEventResponse)
    assert state.content["join_rule"] == "invite"

    said = await bob.say(group.id, "Hello Alice")
    assert await kind_of(bot, said) == "message"  # a channel's, not a direct message
    await alice.say(group.id, "!help")
    room_id, _ = await alice.wait_for(is_text("Here is what you can ask me"))
    assert room_id != group.id  # answered privately, as in any channel

    await bot.stop()  # a restart keeps the key's room
    again = await Bot(hs, world["bot_id"], "bot-password", world["database_url"]).start()
    world["bot"] = again
    assert (await again.adapter.open_group(pair, "round-1:alice-bob")).id == group.id


async def test_a_file_lands_as_m_file_in_the_group_and_its_thread(world):
    alice, bot, hs = world["alice"], world["bot"], world["hs"]
    bob = Person(hs, f"bob{world['tag']}")
    world["people"].append(bob)
    group = await bot.adapter.open_group([member(alice, "Alice"), member(bob, "Bob")], "files")
    await joined(alice, group.id)

    sent = await bot.adapter.post_file(group, ICS, "Your **invitation**")
    assert sent.channel == group and sent.file == ICS
    room_id, file = await alice.wait_for(lambda _r, e: isinstance(e, RoomMessageFile))
    assert room_id == group.id and file.event_id == sent.message_id and file.body == "event.ics"
    downloaded = await alice.client.download(mxc=file.url)
    assert downloaded.body == ICS.data
    assert file.source["content"]["info"]["mimetype"] == "text/calendar"
    await alice.wait_for(lambda r, e: r == group.id and "invitation" in e.body)

    root = await alice.say(group.id, "When is it?")
    await bot.adapter.post_file(ChannelRef("matrix", group.id), ICS, thread_id=root)
    _, reply = await alice.wait_for(
        lambda r, e: isinstance(e, RoomMessageFile) and e.event_id != sent.message_id
    )
    relation = reply.source["content"]["m.relates_to"]
    assert (relation["rel_type"], relation["event_id"]) == ("m.thread", root)


# --- introductions end to end ------------------------------------------------------------------


async def test_an_introduction_and_its_follow_up_answered_in_the_room(homeserver, database_url):
    """Two members of different cities on Synapse: a facilitator's `!intros now` makes a
    room with both invited and introduces them there; the follow-up asked in that room is
    answered by a reply `yes` in its thread (Alice) and a 👍 on it (Bob), both kept."""
    tag = uuid.uuid4().hex[:6]
    homeserver.register(f"convener{tag}", "bot-password")
    bot_id = f"@convener{tag}:localhost"
    fac, alice, bob = (Person(homeserver, f"{n}{tag}") for n in ("fac", "alice", "bob"))
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    bot.settings = bot.settings.model_copy(
        update={"facilitators": fac.user_id, "send_rates": "matrix=unlimited"}
    )  # the test homeserver has no rate limits
    await bot.start()
    try:
        created = await fac.client.room_create(
            name="Practice", invite=[bot_id, alice.user_id, bob.user_id]
        )
        practice = created.room_id
        for person in (alice, bob):
            await joined(person, practice)
        await bot.wait_until(lambda: practice in bot.adapter.client.rooms)
        for person, city, zone in ((alice, "Nairobi, Kenya", "Africa/Nairobi"),
                                   (bob, "Seoul, Korea", "Asia/Seoul")):  # fmt: skip
            await person.say(practice, f"!profile city {city}")
            await person.wait_for(is_text("Saved"))
            await person.say(practice, f"!profile timezone {zone}")
            await person.wait_for(is_text("Asia/Seoul" if person is bob else "Africa/Nairobi"))
        await fac.say(practice, "!intros now")
        await fac.wait_for(is_text("Made 1 introduction"))

        group, _ = await alice.wait_for(lambda r, e: r != practice and "Seoul, Korea" in e.body)
        await joined(bob, group)
        async with bot.app.db.sessions() as session:
            round_id = await session.scalar(select(IntroRound.id))
            row = await session.scalar(select(IntroGroup))
        assert (row.platform, row.channel_id) == ("matrix", group)
        assert await service.follow_up(bot.app.services(), round_id)
        _, asked = await alice.wait_for(
            lambda r, e: r == group and "Did you manage to meet?" in e.body
        )
        await alice.say(group, "yes", {"m.relates_to": in_thread(asked.event_id)})
        await bob.client.room_send(group, "m.reaction", {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": asked.event_id, "key": "👍"}})  # fmt: skip
        await alice.wait_for(is_text("Noted: you met"))
        await bob.wait_for(is_text("Noted: you met"))
        async with bot.app.db.sessions() as session:
            answers = dict((await session.execute(
                select(Identity.user_id, IntroMember.met)
                .join(IntroMember, IntroMember.member_id == Identity.member_id)
            )).all())  # fmt: skip
        assert answers == {alice.user_id: True, bob.user_id: True}
    finally:
        await bot.stop()
        for person in (fac, alice, bob):
            await person.close()


async def test_a_group_whose_members_encrypt_is_encrypted(homeserver, database_url, tmp_path):
    """As a direct room is: when every member's client does encryption, the group room is
    made encrypted, and what the bot posts there (a file too) reaches each member encrypted
    and readable."""
    tag = uuid.uuid4().hex[:6]
    homeserver.register(f"convener{tag}", "bot-password")
    alice, bob = (EncryptedPerson(homeserver, f"{n}{tag}", tmp_path / n) for n in ("alice", "bob"))
    for person in (alice, bob):
        await person.sync(0)  # uploads the device's keys
    bot = await Bot(homeserver, f"@convener{tag}:localhost", "bot-password", database_url).start()
    try:
        group = await bot.adapter.open_group([member(alice, "Alice"), member(bob, "Bob")], "e2e")
        await bot.adapter.send(group, "Hello, both")
        for person in (alice, bob):
            room_id, hello = await person.wait_for(is_text("Hello, both"))
            assert room_id == group.id and decrypted(hello)
            assert person.client.rooms[group.id].encrypted
        await bot.adapter.post_file(group, ICS)
        _, file = await alice.wait_for(lambda _r, e: isinstance(e, RoomEncryptedFile))
        downloaded = await alice.client.download(mxc=file.url)
        key, digest = file.key["k"], file.hashes["sha256"]
        assert decrypt_attachment(downloaded.body, key, digest, file.iv) == ICS.data
    finally:
        await bot.stop()
        for person in (alice, bob):
            await person.close()
