"""Encrypted rooms against a real Synapse: members on matrix-nio clients with encryption (each
with its own key store) talk to the bot in an encrypted room and read its encrypted direct
messages and files; the bot keeps its device and keys across a restart."""

from __future__ import annotations

import io
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    DownloadResponse,
    JoinResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateResponse,
    RoomEncryptedFile,
    RoomMessageNotice,
    RoomMessageText,
    SyncResponse,
)
from nio.crypto import decrypt_attachment

from adapters.matrix import session as matrix_session
from adapters.matrix.adapter import ENCRYPTION_STATE, MatrixAdapter
from bot.settings import Settings
from bot.types import ChannelRef
from tests import test_matrix_adapter as base
from tests.matrix_homeserver import Homeserver
from tests.test_matrix_adapter import Bot, Person, is_text

pytestmark = pytest.mark.matrix
homeserver = base.homeserver  # this module's Synapse
_names = itertools.count(1)


class EncryptedPerson(Person):
    """A member whose client encrypts: its keys in `store`, devices trusted on first use."""

    def __init__(self, hs: Homeserver, name: str, store: Path) -> None:
        account = hs.register(name, "password-" + name)
        store.mkdir(parents=True)
        self.user_id = account["user_id"]
        self.client = AsyncClient(
            hs.url,
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
            store_path=str(store),
        )
        self.client.restore_login(account["user_id"], account["device_id"], account["access_token"])
        self.messages: list[tuple[str, object]] = []
        self.undecrypted: list[MegolmEvent] = []
        self.since: str | None = None

    async def sync(self, wait_ms: int = 500) -> None:
        """Sync (joining rooms it is invited to), collect texts and files, decrypted, then
        the key upkeep every encrypting client does."""
        client = self.client
        response = await client.sync(timeout=wait_ms, since=self.since, full_state=False)
        assert isinstance(response, SyncResponse), response
        self.since = response.next_batch
        for room_id in response.rooms.invite:
            assert isinstance(await client.join(room_id), JoinResponse)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, RoomMessageText | RoomMessageNotice | RoomEncryptedFile):
                    self.messages.append((room_id, event))
                elif isinstance(event, MegolmEvent):
                    self.undecrypted.append(event)
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def say(self, room_id: str, body: str, content: dict | None = None) -> str:
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body, **(content or {})},
            ignore_unverified_devices=True,
        )
        return response.event_id


@pytest.fixture
async def world(homeserver, database_url, tmp_path) -> AsyncIterator[dict]:
    """A bot, and alice's encrypted room that the bot joined; alice is a facilitator."""
    tag = f"{next(_names)}{uuid.uuid4().hex[:6]}"
    bot_id = f"@convener{tag}:localhost"
    homeserver.register(f"convener{tag}", "bot-password")
    alice = EncryptedPerson(homeserver, f"alice{tag}", tmp_path / "alice-store")
    await alice.sync(0)  # uploads her device's keys
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    bot.settings.facilitators = alice.user_id
    await bot.start()
    created = await alice.client.room_create(
        name="Budgeting", invite=[bot_id], initial_state=[ENCRYPTION_STATE]
    )
    assert isinstance(created, RoomCreateResponse)
    await bot.wait_until(lambda: created.room_id in bot.adapter.client.rooms)
    await bot.wait_until(lambda: bot.adapter.client.rooms[created.room_id].encrypted)
    await alice.sync(0)
    world = {"hs": homeserver, "bot": bot, "bot_id": bot_id, "alice": alice, "tag": tag,
             "room": created.room_id, "people": [alice], "database_url": database_url,
             "tmp_path": tmp_path}  # fmt: skip
    yield world
    await world["bot"].stop()
    for person in world["people"]:
        await person.close()


def decrypted(event) -> bool:
    """The event reached the member encrypted and their client decrypted it."""
    return getattr(event, "decrypted", False) is True


async def test_a_command_in_an_encrypted_room_and_after_a_restart(world):
    alice, bot, bot_id, room = world["alice"], world["bot"], world["bot_id"], world["room"]
    await alice.say(room, "!help")
    dm, reply = await alice.wait_for(is_text("Here is what you can ask me"))
    assert reply.sender == bot_id and dm != room
    assert decrypted(reply) and alice.client.rooms[dm].encrypted
    device = bot.adapter.client.device_id
    await bot.stop()
    again = Bot(world["hs"], bot_id, "bot-password", world["database_url"])
    again.settings.facilitators = alice.user_id
    world["bot"] = again
    await again.start()
    assert again.adapter.client.device_id == device  # the same device, with its keys
    await alice.say(room, "!help roles")
    dm_again, answer = await alice.wait_for(is_text("facilitators"))
    assert dm_again == dm and decrypted(answer)


async def test_a_half_synced_direct_room_is_encrypted_for_the_member(world, monkeypatch):
    """A sync can catch a new direct room before Synapse has sent its encryption and the
    invite: the first message is encrypted all the same, its key shared with the member."""
    alice, bot, room = world["alice"], world["bot"], world["room"]
    client = bot.adapter.client
    create = client.room_create

    async def half_synced(*args, **kwargs):
        response = await create(*args, **kwargs)
        if isinstance(response, RoomCreateResponse):  # neither encrypted nor the member in it
            client.rooms[response.room_id] = MatrixRoom(response.room_id, client.user_id)
        return response

    monkeypatch.setattr(client, "room_create", half_synced)
    await alice.say(room, "!help")
    dm, reply = await alice.wait_for(is_text("Here is what you can ask me"))
    assert decrypted(reply) and alice.client.rooms[dm].encrypted


async def test_a_new_member_is_welcomed_in_an_encrypted_direct_room(world):
    alice, room = world["alice"], world["room"]
    bob = EncryptedPerson(world["hs"], f"bob{world['tag']}", world["tmp_path"] / "bob-store")
    world["people"].append(bob)
    await bob.sync(0)  # his device's keys are published before he joins
    await alice.client.room_invite(room, bob.user_id)
    assert isinstance(await bob.client.join(room), JoinResponse)
    dm, welcome = await bob.wait_for(is_text("Welcome to Municipal Finance Practice"))
    assert welcome.sender == world["bot_id"] and decrypted(welcome)
    assert bob.client.rooms[dm].encrypted
    await bob.wait_for(is_text("Which city"))
    await bob.say(dm, "Nairobi")  # onboarding answers, encrypted too
    await bob.wait_for(is_text("organisation"))


async def test_a_report_arrives_encrypted_and_opens(world):
    alice = world["alice"]
    await alice.say(world["room"], "!report")
    dm, event = await alice.wait_for(lambda _r, e: isinstance(e, RoomEncryptedFile))
    assert alice.client.rooms[dm].encrypted and event.body.endswith(".xlsx")
    downloaded = await alice.client.download(mxc=event.url)
    assert isinstance(downloaded, DownloadResponse)
    data = decrypt_attachment(downloaded.body, event.key["k"], event.hashes["sha256"], event.iv)
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames


async def test_an_event_that_cannot_be_decrypted_is_counted_and_logged(world, caplog):
    alice, bot, room = world["alice"], world["bot"], world["room"]
    caplog.set_level(logging.WARNING, "adapters.matrix.adapter")
    content = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEhA", "device_id": "X",
               "sender_key": "c2VuZGVy", "session_id": "bm8gc3VjaCBzZXNzaW9u"}  # fmt: skip
    # Sent as is, bypassing her client: a megolm session nobody ever shared.
    path = f"/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/{uuid.uuid4().hex}"
    answer = world["hs"].api("PUT", path, content, access_token=alice.client.access_token)
    await bot.wait_stored([answer["event_id"]])
    lines = [r.getMessage() for r in caplog.records if "cannot decrypt" in r.getMessage()]
    assert len(lines) == 1 and alice.user_id in lines[0] and room in lines[0]
    await alice.say(room, "!help")  # and the bot goes on
    await alice.wait_for(is_text("Here is what you can ask me"))


async def test_a_room_not_synced_yet_is_learnt_before_sending(world):
    """A standby replica sends without syncing: the room's encryption is read first."""
    alice, bot, room = world["alice"], world["bot"], world["room"]
    bot.adapter.client.rooms.pop(room)
    await bot.adapter.send(ChannelRef("matrix", room, "#Budgeting"), "Hello, encrypted")
    found, hello = await alice.wait_for(is_text("Hello, encrypted"))
    assert found == room and decrypted(hello)


def test_without_the_encryption_libraries_one_line_and_plain_rooms(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(matrix_session, "ENCRYPTION_ENABLED", False)
    settings = Settings(_env_file=None, matrix_homeserver="http://127.0.0.1:9",
                        matrix_user_id="@convener:localhost",
                        matrix_store_path=str(tmp_path / "store"))  # fmt: skip
    with caplog.at_level(logging.WARNING, "adapters.matrix.adapter"):
        client = MatrixAdapter(settings)._new_client()
    assert not client.config.encryption_enabled and not (tmp_path / "store").exists()
    assert [r.getMessage() for r in caplog.records] == [
        "Matrix: encryption is unavailable (install matrix-nio[e2e]); encrypted rooms are ignored"
    ]
