"""Smoke test of the throwaway Synapse used by the Matrix tests (tests/matrix_homeserver.py).

Skips when Synapse is not installed (`bash scripts/install-synapse.sh`), unless $CI is set, in
which case a missing Synapse fails the test.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    LoginResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.matrix_homeserver import Homeserver, require_synapse

pytestmark = pytest.mark.matrix


@pytest.fixture
def homeserver(tmp_path: Path) -> Iterator[Homeserver]:
    python = require_synapse()
    hs = Homeserver(tmp_path / "synapse", python=python)
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


def _texts(sync: SyncResponse, room_id: str) -> list[tuple[str, str]]:
    room = sync.rooms.join.get(room_id)
    if room is None:
        return []
    return [
        (event.sender, event.body)
        for event in room.timeline.events
        if isinstance(event, RoomMessageText)
    ]


async def test_two_users_talk_and_survive_a_restart(homeserver: Homeserver) -> None:
    alice = homeserver.register("alice", "alice-password")
    bob = homeserver.register("bob", "bob-password", admin=True)
    assert alice["user_id"] == "@alice:localhost"
    assert bob["access_token"] and bob["device_id"]

    alice_client = AsyncClient(homeserver.url, alice["user_id"])
    bob_client = AsyncClient(homeserver.url)
    bob_client.restore_login(bob["user_id"], bob["device_id"], bob["access_token"])
    try:
        login = await alice_client.login("alice-password", device_name="smoke")
        assert isinstance(login, LoginResponse), login

        created = await alice_client.room_create(name="smoke", invite=[bob["user_id"]])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id

        sent = await alice_client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "hello bob"}
        )
        assert isinstance(sent, RoomSendResponse), sent

        joined = await bob_client.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        first = await bob_client.sync(timeout=0, full_state=True)
        assert isinstance(first, SyncResponse), first
        assert (alice["user_id"], "hello bob") in _texts(first, room_id)

        alice_sync = await alice_client.sync(timeout=0)
        assert isinstance(alice_sync, SyncResponse), alice_sync

        # Same port, same database: the clients carry on with their tokens.
        await asyncio.to_thread(homeserver.restart)
        assert homeserver.last_start_seconds is not None

        again = await alice_client.sync(timeout=0)
        assert isinstance(again, SyncResponse), again

        sent = await alice_client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "still here"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        later = await bob_client.sync(timeout=5000, since=first.next_batch)
        assert isinstance(later, SyncResponse), later
        assert _texts(later, room_id) == [(alice["user_id"], "still here")]
    finally:
        await alice_client.close()
        await bob_client.close()


def test_rate_limits_are_relaxed(homeserver: Homeserver) -> None:
    # Synapse's default rc_message allows a burst of 10: the 11th message would get HTTP 429
    # (which matrix-nio hides by sleeping and retrying). The raw API raises on any error.
    alice = homeserver.register("alice", "alice-password")
    token = alice["access_token"]
    room_id = homeserver.api("POST", "/_matrix/client/v3/createRoom", {}, token)["room_id"]
    room = urllib.parse.quote(room_id, safe="")
    for txn in range(30):
        homeserver.api(
            "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{txn}",
            {"msgtype": "m.text", "body": f"message {txn}"},
            token,
        )
