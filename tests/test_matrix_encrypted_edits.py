"""A question's thread kept as it stands in an encrypted room, as in a plain one: a reply edited
and another deleted before `solved`, on a real Synapse (tests/matrix_homeserver.py) with members
on encrypting matrix-nio clients; `search` then finds the edit's words, neither the first ones
nor the deleted reply's. The homeserver bundles an encrypted room's latest edit encrypted, and
nio's decryption drops `unsigned`, where the bundle is: the adapter decrypts it itself, and asks
for the edits (`/relations/{event}/m.replace`) when it cannot; an edit it cannot decrypt never
hides the reply. Then the pure functions (adapters/matrix/events.py) on the encrypted shapes.

Shapes: an edit as Element sends it (element-web, src/components/views/rooms/
EditMessageComposer.tsx, `createEditContent`); an encrypted edit, its cleartext `m.relates_to`
and its bundling in `unsigned.m.relations.m.replace`, as the spec gives them
(https://spec.matrix.org/v1.11/client-server-api/#event-replacements: "Editing encrypted events"
and "Server-side aggregation of m.replace relationships").

Nothing here sleeps: members' clients sync until what they wait for arrives, with a deadline."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from nio import RoomCreateResponse, RoomRedactResponse
from sqlalchemy import select

from adapters.matrix import events
from adapters.matrix.adapter import ENCRYPTION_STATE
from bot.models import KnowledgeEntry
from bot.types import ChannelRef
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Bot
from tests.test_matrix_e2e import EncryptedPerson, decrypted

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = pytest.mark.one_database

homeserver = base.homeserver  # this module's Synapse

QUESTION = "How do other cities plan a multi-year capital budget?"
FIRST = "We hold participatory workshops every spring."
EDITED = "We keep a rolling five-year plan, reviewed by the council."
SPAM = "Cheap municipal bonds, write to me."
UNTOUCHED = "Quito sets its plan with the neighbourhood assemblies."
MEGOLM = "m.megolm.v1.aes-sha2"


def in_thread(root: str) -> dict:
    """`m.relates_to` of a thread reply as Element sends it (a fallback reply to the root)."""
    return {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        }
    }


def edit_of(event_id: str, text: str) -> dict:
    """An edit as Element sends it: `* `-prefixed fallback body, the new text in
    `m.new_content`, an `m.replace` relation (encrypted by the client in an encrypted room,
    the relation left in cleartext)."""
    return {
        "msgtype": "m.text",
        "body": f"* {text}",
        "m.mentions": {},
        "m.new_content": {"msgtype": "m.text", "body": text, "m.mentions": {}},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def from_bot(bot_id: str, *needles: str, room: str | None = None):
    def check(room_id, event) -> bool:
        body = getattr(event, "body", "")
        return (
            event.sender == bot_id
            and all(n in body for n in needles)
            and (room is None or room_id == room)
        )

    return check


@pytest.fixture(params=[True, False], ids=["encrypted", "plain"])
async def room(request, homeserver, database_url, tmp_path) -> AsyncIterator[dict]:
    """alice's room "Budgeting" (encrypted, or not) with kofi and the bot; alice is a
    facilitator. Every client knows the others' devices before anyone speaks."""
    encrypted = request.param
    tag = uuid.uuid4().hex[:8]
    bot_id = f"@convener-e{tag}:localhost"
    homeserver.register(f"convener-e{tag}", "bot-password")
    alice = EncryptedPerson(homeserver, f"alice-{tag}", tmp_path / "alice-store")
    kofi = EncryptedPerson(homeserver, f"kofi-{tag}", tmp_path / "kofi-store")
    for person, name in ((alice, "alice"), (kofi, "kofi")):
        await person.client.set_displayname(name)
        await person.sync(0)  # uploads the device's keys
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    bot.settings.facilitators = alice.user_id
    try:
        await bot.start()
        created = await alice.client.room_create(
            name="Budgeting",
            invite=[bot_id, kofi.user_id],
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
        )
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await kofi.sync(0)  # joins
        rooms = bot.adapter.client.rooms
        await bot.wait_until(
            lambda: (
                room_id in rooms
                and rooms[room_id].joined_count == 3
                and rooms[room_id].encrypted is encrypted
            )
        )
        for person in (alice, kofi):
            await person.sync(0)  # the members and their devices
        yield {"hs": homeserver, "bot": bot, "bot_id": bot_id, "room": room_id,
               "alice": alice, "kofi": kofi, "encrypted": encrypted}  # fmt: skip
    finally:
        await bot.stop()
        await alice.close()
        await kofi.close()


@pytest.mark.matrix
async def test_solved_keeps_the_thread_as_it_stands(room, monkeypatch):
    bot, bot_id, room_id = room["bot"], room["bot_id"], room["room"]
    alice, kofi, hs = room["alice"], room["kofi"], room["hs"]

    await alice.say(room_id, f"!ask {QUESTION}")
    _, post = await alice.wait_for(
        lambda r, e: (
            from_bot(bot_id, "Question #1", QUESTION, room=room_id)(r, e)
            and "m.relates_to" not in e.source["content"]
        )
    )
    assert decrypted(post) is room["encrypted"]

    # kofi answers in the thread, then edits his answer; his second reply he deletes.
    answer = await kofi.say(room_id, FIRST, in_thread(post.event_id))
    spam = await kofi.say(room_id, SPAM, in_thread(post.event_id))
    edit = await kofi.say(room_id, f"* {EDITED}", edit_of(answer, EDITED))
    assert answer and spam and edit
    redacted = await kofi.client.room_redact(room_id, spam, reason="spam")
    assert isinstance(redacted, RoomRedactResponse), redacted

    # What the homeserver bundles with the answer: its latest edit, whole, encrypted when
    # the room is (its relation in cleartext).
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(answer)}"
    seen = hs.api("GET", path, access_token=kofi.client.access_token)
    bundled = seen["unsigned"]["m.relations"]["m.replace"]
    assert bundled["event_id"] == edit
    assert bundled["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": answer}
    if room["encrypted"]:
        assert seen["type"] == bundled["type"] == events.ENCRYPTED
        assert "m.new_content" not in bundled["content"]

    asked: list[str] = []
    relations = bot.adapter._relations

    async def recorded(room_id: str, event_id: str, rel_type: str, limit: int) -> list[dict]:
        asked.append(rel_type)
        return await relations(room_id, event_id, rel_type, limit)

    monkeypatch.setattr(bot.adapter, "_relations", recorded)
    await alice.say(room_id, "!solved 1")
    await alice.wait_for(from_bot(bot_id, "Question #1 is solved", "library", room=room_id))
    assert asked == ["m.thread"]  # the bundled edit, decrypted: no edit was asked for

    async with bot.app.db.sessions() as session:
        entry = (await session.scalars(select(KnowledgeEntry))).one()
    assert EDITED in entry.body
    assert FIRST not in entry.body and SPAM not in entry.body

    await alice.say(room_id, "!search rolling")
    _, found = await alice.wait_for(from_bot(bot_id, "The library on rolling"))
    assert f"#{entry.id} " in found.body
    for words in ("workshops", "bonds"):
        await alice.say(room_id, f"!search {words}")
        await alice.wait_for(from_bot(bot_id, f"Nothing in the library matches {words}"))


@pytest.mark.matrix
@pytest.mark.parametrize("room", [True], ids=["encrypted"], indirect=True)
async def test_an_edit_that_cannot_be_decrypted_hides_nothing(room, monkeypatch, caplog):
    """Edits encrypted with a room key nobody shared (sent as is, bypassing kofi's client):
    the answer keeps its latest edit that can be read, the other reply its own text."""
    bot, room_id, hs = room["bot"], room["room"], room["hs"]
    alice, kofi = room["alice"], room["kofi"]
    root = await alice.say(room_id, QUESTION)
    answer = await kofi.say(room_id, FIRST, in_thread(root))
    other = await kofi.say(room_id, UNTOUCHED, in_thread(root))
    assert await kofi.say(room_id, f"* {EDITED}", edit_of(answer, EDITED))
    for target in (answer, other):
        content = {"algorithm": MEGOLM, "ciphertext": "AwgAEhA", "device_id": "X",
                   "sender_key": "c2VuZGVy", "session_id": "bm8gc3VjaCBzZXNzaW9u",
                   "m.relates_to": {"rel_type": "m.replace", "event_id": target}}  # fmt: skip
        path = f"/_matrix/client/v3/rooms/{room_id}/send/{events.ENCRYPTED}/{uuid.uuid4().hex}"
        hs.api("PUT", path, content, access_token=kofi.client.access_token)
    await bot.wait_stored([root, answer, other])  # the bot has synced, room keys and all

    asked: list[str] = []
    relations = bot.adapter._relations

    async def recorded(room_id: str, event_id: str, rel_type: str, limit: int) -> list[dict]:
        asked.append(rel_type)
        return await relations(room_id, event_id, rel_type, limit)

    monkeypatch.setattr(bot.adapter, "_relations", recorded)
    with caplog.at_level(logging.WARNING, "adapters.matrix.adapter"):
        replies = await bot.adapter.thread(ChannelRef("matrix", room_id, "#Budgeting"), root)
    assert [(r.message_id, r.text) for r in replies] == [(answer, EDITED), (other, UNTOUCHED)]
    assert asked == ["m.thread", "m.replace", "m.replace"]
    said = [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert len(said) == 2
    assert answer in said[0] and "an earlier edit kept" in said[0]
    assert other in said[1] and "its text kept" in said[1]


# The pure functions, on the shapes of an encrypted room ------------------------------------

ORIGINAL_ID, EDIT_ID, KOFI, ROOM = "$answer", "$edit", "@kofi:example.org", "!r:example.org"
REPLACES = {"rel_type": "m.replace", "event_id": ORIGINAL_ID}
THREAD = in_thread("$root")["m.relates_to"]


def envelope(event_id: str, ts: int, relates_to: dict | None, sender: str = KOFI, **extra):
    """An `m.room.encrypted` event as the homeserver serves it: the relation in cleartext."""
    content = {"algorithm": MEGOLM, "ciphertext": "AwgA", "device_id": "KOFIDEVICE",
               "sender_key": "a2V5", "session_id": "c2Vzc2lvbg"}  # fmt: skip
    if relates_to is not None:
        content["m.relates_to"] = relates_to
    wire = {"type": events.ENCRYPTED, "event_id": event_id, "sender": sender,
            "origin_server_ts": ts, "room_id": ROOM, "content": content}  # fmt: skip
    return {**wire, **extra}


def payload_of_edit(text: str) -> dict:
    """The decrypted payload of an encrypted edit: no `m.relates_to` (it is in cleartext)."""
    content = edit_of(ORIGINAL_ID, text)
    del content["m.relates_to"]
    return {"type": "m.room.message", "room_id": ROOM, "content": content}


def original(bundle: dict | None = None) -> dict:
    """The reply decrypted, as `events.decrypted` gives it, with `bundle` bundled."""
    unsigned = {"m.relations": {"m.replace": bundle}} if bundle else {}
    wire = envelope(ORIGINAL_ID, 1000, THREAD, unsigned=unsigned)
    payload = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": FIRST}}
    view = events.decrypted(wire, payload)
    assert view is not None
    return view


def test_a_decrypted_event_keeps_its_bundle_and_its_cleartext_relation():
    bundle = envelope(EDIT_ID, 2000, REPLACES)
    view = original(bundle)
    assert view["type"] == "m.room.message" and view["event_id"] == ORIGINAL_ID
    assert view["content"]["body"] == FIRST and view["content"]["m.relates_to"] == THREAD
    assert events.bundled_edit(view) == bundle  # what nio's decryption drops
    # A relation inside the payload is ignored (spec): the cleartext one stands, or none.
    forged = {"type": "m.room.message", "content": {"body": "x", "m.relates_to": REPLACES}}
    assert events.decrypted(envelope("$x", 1, THREAD), forged)["content"]["m.relates_to"] == THREAD
    assert "m.relates_to" not in events.decrypted(envelope("$x", 1, None), forged)["content"]
    assert events.decrypted(bundle, {"type": "m.room.message"}) is None  # no content
    assert events.decrypted(bundle, {"content": {}}) is None  # no type


def test_an_encrypted_edit_counts_once_decrypted_and_only_then():
    bundle = envelope(EDIT_ID, 2000, REPLACES)
    view = original(bundle)
    assert events.new_content(view, bundle) is None  # still encrypted: unreadable
    assert events.needs_lookup(bundle)
    readable = events.decrypted(bundle, payload_of_edit(EDITED))
    assert events.new_content(view, readable)["body"] == EDITED
    assert not events.needs_lookup(readable)
    assert events.needs_lookup({"event_id": EDIT_ID, "sender": KOFI})  # before spec v1.7

    # Not an edit of this reply: another sender's; a plaintext one; one whose payload names
    # this reply but whose cleartext relation (what the spec and the homeserver go by) names
    # another; an `m.new_content` put in cleartext beside the ciphertext.
    mallory = envelope(EDIT_ID, 2000, REPLACES, "@mallory:x")
    assert events.new_content(view, events.decrypted(mallory, payload_of_edit("no"))) is None
    plain = {**bundle, "type": "m.room.message", "content": edit_of(ORIGINAL_ID, "plain")}
    assert events.new_content(view, plain) is None
    elsewhere = envelope(EDIT_ID, 2000, {**REPLACES, "event_id": "$b"})
    payload = {**payload_of_edit("forged"), "content": edit_of(ORIGINAL_ID, "forged")}
    assert events.new_content(view, events.decrypted(elsewhere, payload)) is None
    cleartext = envelope(EDIT_ID, 2000, REPLACES)
    cleartext["content"]["m.new_content"] = {"msgtype": "m.text", "body": "in the clear"}
    undecrypted = envelope(ORIGINAL_ID, 1000, THREAD)
    assert events.new_content(undecrypted, cleartext) is None


def test_the_latest_edit_that_can_be_read_wins():
    def edit(event_id: str, ts: int, text: str) -> dict:
        return events.decrypted(envelope(event_id, ts, REPLACES), payload_of_edit(text))

    unreadable = envelope("$z", 9000, REPLACES)  # the latest, its room key unknown
    edits = [edit("$b", 3000, "later"), unreadable, edit("$a", 2000, "earlier")]
    assert events.latest_edit(original(), edits)["body"] == "later"
    assert events.latest_edit(original(), [unreadable]) is None  # the reply's own text stands
