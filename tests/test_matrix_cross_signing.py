"""Convener's own cross-signing identity against a real Synapse: published before the adapter
is ready (read back with `/keys/query` by another member, every signature checked by
signedjson in Synapse's environment, an implementation other than ours), kept across restarts
with nothing uploaded again, reused by a new device, and never overwritten when the store
lost it or cannot be read; replacing keys needs the password.

Payload shapes: spec v1.11, client-server API, "Cross-signing" and "POST /keys/query"
(https://spec.matrix.org/v1.11/client-server-api/#cross-signing); user-interactive auth:
https://spec.matrix.org/v1.11/client-server-api/#user-interactive-authentication-api."""

from __future__ import annotations

import json
import logging
import shutil
import stat
import subprocess
import uuid
from collections.abc import AsyncIterator

import pytest
from nio import AsyncClient

from adapters.matrix import crosssigning
from tests import test_matrix_adapter as base
from tests.matrix_homeserver import Homeserver
from tests.test_matrix_adapter import Bot, Person

pytestmark = [pytest.mark.matrix, pytest.mark.one_database]  # the homeserver's, either way
homeserver = base.homeserver  # this module's Synapse

LOGGER = "adapters.matrix.adapter"
UPLOADS = ("/keys/device_signing/upload", "/keys/signatures/upload")

# Run by Synapse's Python: signedjson (with its own canonical JSON) checks each signature.
_VERIFY = """
import json, sys
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64
for signed, user_id, key_id, public in json.load(sys.stdin):
    verify_signed_json(signed, user_id, decode_verify_key_bytes(key_id, decode_base64(public)))
"""


def verify(hs: Homeserver, *checks: tuple[dict, str, str, str]) -> None:
    """Each (signed object, signer's user id, signer's key id, its public key) verifies."""
    result = subprocess.run(
        [str(hs.python), "-c", _VERIFY],
        input=json.dumps(checks),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def ed25519(key: dict) -> str:
    """The public key of a cross-signing key object (its key id is the key itself)."""
    [(key_id, public)] = key["keys"].items()
    assert key_id == f"ed25519:{public}"
    return public


def query(hs: Homeserver, token: str, user_id: str) -> dict:
    return hs.api("POST", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}}, token)


@pytest.fixture
def uploads(monkeypatch) -> list[str]:
    """The cross-signing uploads nio clients make from now on (their paths), and "sync" for
    each sync."""
    made: list[str] = []
    send = AsyncClient.send

    async def recording(self, method, path, *args, **kwargs):
        if path.endswith(UPLOADS):
            made.append(path)
        elif path.startswith("/_matrix/client/v3/sync") and "sync" not in made:
            made.append("sync")
        return await send(self, method, path, *args, **kwargs)

    monkeypatch.setattr(AsyncClient, "send", recording)
    return made


@pytest.fixture
async def world(homeserver, database_url, tmp_path) -> AsyncIterator[dict]:
    """A bot account (not started) whose store is in `tmp_path`, and alice, a member."""
    tag = uuid.uuid4().hex[:8]
    bot_id = f"@convener{tag}:localhost"
    homeserver.register(f"convener{tag}", "bot-password")
    alice = Person(homeserver, f"alice{tag}")
    store = tmp_path / "store"
    bots: list[Bot] = []

    def new_bot(database: str = database_url) -> Bot:
        bot = Bot(homeserver, bot_id, "bot-password", database)
        bot.settings.matrix_store_path = str(store)
        bots.append(bot)
        return bot

    yield {"hs": homeserver, "bot_id": bot_id, "alice": alice, "store": store,
           "keys": store / f"{bot_id}_cross_signing.json", "new_bot": new_bot}  # fmt: skip
    for bot in bots:
        if bot.app is not None:
            await bot.stop()
    await alice.close()


def published(world: dict, device_id: str, token: str) -> dict[str, str]:
    """The bot's identity as alice reads it, each signature verified: the self-signing key by
    the master key, the device by the self-signing key; and as the bot reads it (with its
    `token`; Synapse shows a user's signatures only to that user): the master key by the
    device, the user-signing key by the master key."""
    hs, bot_id = world["hs"], world["bot_id"]
    answer = query(hs, world["alice"].client.access_token, bot_id)
    master = answer["master_keys"][bot_id]
    self_signing = answer["self_signing_keys"][bot_id]
    device = answer["device_keys"][bot_id][device_id]
    assert master["usage"] == ["master"] and self_signing["usage"] == ["self_signing"]
    assert f"ed25519:{ed25519(self_signing)}" in device["signatures"][bot_id]
    own = query(hs, token, bot_id)
    user_signing = own["user_signing_keys"][bot_id]
    assert user_signing["usage"] == ["user_signing"]
    key_id = f"ed25519:{ed25519(master)}"
    verify(
        hs,
        (self_signing, bot_id, key_id, ed25519(master)),
        (device, bot_id, f"ed25519:{ed25519(self_signing)}", ed25519(self_signing)),
        (own["master_keys"][bot_id], bot_id, f"ed25519:{device_id}",
         device["keys"][f"ed25519:{device_id}"]),
        (user_signing, bot_id, key_id, ed25519(master)),
    )  # fmt: skip
    return {"master": ed25519(master), "self_signing": ed25519(self_signing),
            "user_signing": ed25519(user_signing)}  # fmt: skip


async def test_the_identity_is_published_at_the_first_start_and_kept_across_restarts(
    world, uploads
):
    bot = await world["new_bot"]().start()
    device, token = bot.adapter.client.device_id, bot.adapter.client.access_token
    identity = published(world, device, token)
    # Uploaded once, before the first sync (so before the adapter is ready).
    assert uploads == [f"/_matrix/client/v3{path}" for path in UPLOADS] + ["sync"]
    assert stat.S_IMODE(world["keys"].stat().st_mode) == 0o600
    await bot.stop()

    uploads.clear()
    again = await world["new_bot"]().start()
    assert again.adapter.client.device_id == device
    assert published(world, device, token) == identity
    assert uploads == ["sync"]


async def test_a_new_device_is_signed_by_the_identity_kept_in_the_store(
    world, uploads, sqlite_template, tmp_path
):
    bot = await world["new_bot"]().start()
    first, token = bot.adapter.client.device_id, bot.adapter.client.access_token
    identity = published(world, first, token)
    await bot.stop()
    fresh = tmp_path / "fresh.db"  # no stored login: a new device, beside the old one's keys
    shutil.copy(sqlite_template, fresh)
    uploads.clear()
    other = await world["new_bot"](f"sqlite:///{fresh}").start()
    second, token = other.adapter.client.device_id, other.adapter.client.access_token
    assert second != first
    assert published(world, second, token) == identity
    assert published(world, first, token) == identity
    assert uploads == ["/_matrix/client/v3/keys/signatures/upload", "sync"]


async def test_keys_on_the_server_but_not_in_the_store_are_left_alone(world, uploads, caplog):
    bot = await world["new_bot"]().start()
    device, token = bot.adapter.client.device_id, bot.adapter.client.access_token
    identity = published(world, device, token)
    await bot.stop()
    world["keys"].unlink()  # the store lost them; nio's keys of the device are still there
    uploads.clear()
    with caplog.at_level(logging.INFO, LOGGER):
        again = await world["new_bot"]().start()
    lines = [r.getMessage() for r in caplog.records if "cross-signing" in r.getMessage()]
    assert len(lines) == 1 and "already has a cross-signing identity" in lines[0]
    assert identity["master"] in lines[0]
    assert again.adapter.client.device_id == device
    assert published(world, device, token) == identity
    assert uploads == ["sync"] and not world["keys"].exists()


async def test_an_unreadable_store_uploads_nothing_and_the_bot_starts(world, uploads, caplog):
    world["store"].mkdir(mode=0o700)
    world["keys"].write_text('{"user_id": "' + world["bot_id"] + '", "master": "garbled"}')
    with caplog.at_level(logging.INFO, LOGGER):
        bot = await world["new_bot"]().start()
    lines = [r.getMessage() for r in caplog.records if "cross-signing" in r.getMessage()]
    assert len(lines) == 1 and "is unreadable" in lines[0]
    assert uploads == ["sync"]
    answer = query(world["hs"], world["alice"].client.access_token, world["bot_id"])
    assert world["bot_id"] not in answer.get("master_keys", {})
    assert bot.adapter.running  # started all the same


async def test_replacing_keys_needs_the_password(world, caplog):
    """Synapse takes the first upload without user-interactive auth (MSC3967) and asks for it
    to replace keys: answered with the password when there is one, else one warning."""
    hs, bot_id = world["hs"], world["bot_id"]
    login = hs.api("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "password": "bot-password",
        "identifier": {"type": "m.id.user", "user": bot_id}})  # fmt: skip
    client = AsyncClient(hs.url)
    client.restore_login(bot_id, login["device_id"], login["access_token"])
    try:
        first, second = crosssigning.Identity.create(bot_id), crosssigning.Identity.create(bot_id)
        assert await crosssigning.upload_keys(client, first.upload(), "")
        with caplog.at_level(logging.WARNING, LOGGER):
            assert not await crosssigning.upload_keys(client, second.upload(), "")
            assert not await crosssigning.upload_keys(client, second.upload(), "wrong-password")
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2
        assert "MATRIX_PASSWORD is not set" in lines[0] and "refused" in lines[1]

        def master() -> str:
            return ed25519(query(hs, login["access_token"], bot_id)["master_keys"][bot_id])

        assert master() == first.public("master")
        assert await crosssigning.upload_keys(client, second.upload(), "bot-password")
        assert master() == second.public("master")
    finally:
        await client.close()
