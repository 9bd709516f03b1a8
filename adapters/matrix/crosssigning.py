"""Convener's own cross-signing identity (spec v1.11, client-server API, "Cross-signing"), so
that members' clients show its device as verified by its owner and share room keys with it
even when they share only with cross-signed devices (MSC4153).

Once per account, a master, a self-signing and a user-signing ed25519 key are made, written to
`<user id>_cross_signing.json` in the store directory (mode 0600, beside nio's store; written
before anything is uploaded, so an upload that fails is retried with the same keys) and
uploaded with `/keys/device_signing/upload`. The device key is signed by the self-signing key,
and the master key by the device, with `/keys/signatures/upload`. Each start reads the
account's keys back with `/keys/query` and uploads only what the server lacks.

Keys on the server that are not the stored ones (the store was lost, or someone set up
cross-signing from another client) are left alone, with one log line: replacing them needs
user-interactive auth, and members' clients would warn that the bot's identity changed.

vodozemac's Python bindings have no bare ed25519 key pair: each key is a vodozemac `Account`,
whose identity key is one, stored pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import vodozemac
from nio import AsyncClient

from adapters.matrix.common import for_log, log

USAGES = ("master", "self_signing", "user_signing")
QUERY = "/_matrix/client/v3/keys/query"
UPLOAD_KEYS = "/_matrix/client/v3/keys/device_signing/upload"
UPLOAD_SIGNATURES = "/_matrix/client/v3/keys/signatures/upload"

# The file's mode guards the keys, as it guards nio's store (whose pickle key is fixed too).
_PICKLE_KEY = hashlib.sha256(b"convener cross-signing keys").digest()


def canonical_json(value: dict[str, Any]) -> bytes:
    """The bytes a signature covers: canonical JSON without `signatures` and `unsigned`."""
    bare = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    return json.dumps(bare, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class Identity:
    """The three private keys of one account."""

    def __init__(self, user_id: str, keys: dict[str, vodozemac.Account]) -> None:
        self.user_id = user_id
        self.keys = keys

    @classmethod
    def create(cls, user_id: str) -> Identity:
        return cls(user_id, {usage: vodozemac.Account() for usage in USAGES})

    def public(self, usage: str) -> str:
        return self.keys[usage].ed25519_key.to_base64()

    def sign(self, usage: str, value: dict[str, Any]) -> dict[str, Any]:
        """`value` with this key's signature added to its `signatures`."""
        signature = self.keys[usage].sign(canonical_json(value)).to_base64()
        return _with_signature(value, self.user_id, f"ed25519:{self.public(usage)}", signature)

    def key(self, usage: str) -> dict[str, Any]:
        """The public key object of `usage`, signed by the master key unless it is that."""
        public = self.public(usage)
        key = {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}
        return key if usage == "master" else self.sign("master", key)

    def upload(self) -> dict[str, Any]:
        """The body of `/keys/device_signing/upload`."""
        return {f"{usage}_key": self.key(usage) for usage in USAGES}

    # Storage ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, user_id: str) -> Identity | None:
        """The stored identity, or None if there is none; ValueError if it is unreadable."""
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        if not isinstance(stored, dict) or stored.get("user_id") != user_id:
            raise ValueError(f"not the cross-signing keys of {user_id}")
        keys = {
            usage: vodozemac.Account.from_pickle(stored[usage], _PICKLE_KEY) for usage in USAGES
        }
        return cls(user_id, keys)

    def save(self, path: Path) -> bool:
        """Write the keys (owner only) unless a file is already there: False then."""
        stored = {"user_id": self.user_id}
        stored.update({usage: self.keys[usage].pickle(_PICKLE_KEY) for usage in USAGES})
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".cross-signing-")  # 0600
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(stored, file)
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)  # atomic, and refuses to replace a file
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True


def _with_signature(value: dict, user_id: str, key_id: str, signature: str) -> dict[str, Any]:
    existing = value.get("signatures")
    existing = existing if isinstance(existing, dict) else {}
    signatures = {user: dict(sigs) for user, sigs in existing.items() if isinstance(sigs, dict)}
    signatures.setdefault(user_id, {})[key_id] = signature
    signed = {k: v for k, v in value.items() if k != "unsigned"}
    signed["signatures"] = signatures
    return signed


def _at(value: Any, *names: str) -> Any:
    """`value[name][name]...`, or None where one is missing or not an object."""
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _public_key(answer: dict, field: str, user_id: str) -> str | None:
    """The ed25519 public key of the `/keys/query` answer's `field` for `user_id`, if any."""
    keys = _at(answer, field, user_id, "keys")
    if not isinstance(keys, dict):
        return None
    return next((v for k, v in keys.items() if k.startswith("ed25519:")), None)


async def bootstrap(client: AsyncClient, store: Path, password: str = "") -> None:
    """Give the client's account its cross-signing identity, or reuse the stored one, and
    sign the client's device with it, uploading only what the homeserver lacks. A refusal is
    logged and the bot carries on without; a connection fault raises."""
    user_id, device_id = client.user_id, client.device_id
    if client.olm is None or not device_id:
        return
    path = store / f"{user_id}_cross_signing.json"
    try:
        identity = Identity.load(path, user_id)
    except (OSError, ValueError, KeyError, TypeError, vodozemac.PickleException) as exc:
        log.error("Matrix cross-signing: %s is unreadable (%s); the device stays unverified "
                  "by its owner", path, for_log(str(exc)))  # fmt: skip
        return
    status, mine = await _post(client, QUERY, {"device_keys": {user_id: [device_id]}})
    if status != 200:
        log.warning("Matrix cross-signing: could not read the account's keys (HTTP %s %s); "
                    "the device stays unverified by its owner", status, _why(mine))  # fmt: skip
        return
    on_server = {usage: _public_key(mine, f"{usage}_keys", user_id) for usage in USAGES}
    if identity is None and on_server["master"] is None:
        identity = Identity.create(user_id)
        if not identity.save(path):  # another process sharing the store made one first
            identity = Identity.load(path, user_id)
    if identity is None or on_server["master"] not in (None, identity.public("master")):
        log.warning("Matrix cross-signing: %s already has a cross-signing identity (master key "
                    "%s) that is not the one in %s; it is left as it is, and this device stays "
                    "unverified by its owner (replacing it needs the account's password and "
                    "asks members to trust the bot anew)",
                    user_id, for_log(on_server["master"]), path)  # fmt: skip
        return
    if any(on_server[usage] != identity.public(usage) for usage in USAGES):
        if not await upload_keys(client, identity.upload(), password):
            return
        log.info("Matrix cross-signing: uploaded the identity of %s (master key %s)",
                 user_id, identity.public("master"))  # fmt: skip
    device = _at(mine, "device_keys", user_id, device_id)
    if not isinstance(device, dict) or not _is_ours(client, device):
        log.warning("Matrix cross-signing: the homeserver does not hold the keys of device %s "
                    "as this client made them; the device is not signed", device_id)  # fmt: skip
        return
    signed_by = _at(device, "signatures", user_id)
    if isinstance(signed_by, dict) and f"ed25519:{identity.public('self_signing')}" in signed_by:
        return
    master = identity.key("master")
    signature = client.olm.account.sign(canonical_json(master).decode())
    master = _with_signature(master, user_id, f"ed25519:{device_id}", signature)
    body = {user_id: {device_id: identity.sign("self_signing", device),
                      identity.public("master"): master}}  # fmt: skip
    status, answer = await _post(client, UPLOAD_SIGNATURES, body)
    failures = answer.get("failures") if status == 200 else None
    if status != 200 or failures:
        why = for_log(json.dumps(failures)) if failures else _why(answer)
        log.warning("Matrix cross-signing: the signatures of device %s were refused (HTTP %s "
                    "%s); the device stays unverified by its owner", device_id, status,
                    why)  # fmt: skip
        return
    log.info("Matrix cross-signing: device %s is signed by its owner's identity", device_id)


def _is_ours(client: AsyncClient, device: dict) -> bool:
    """The device key the server returned is this client's, so signing it vouches for nothing
    else."""
    keys, own = device.get("keys"), client.olm.account.identity_keys
    device_id = client.device_id
    return (
        device.get("user_id") == client.user_id
        and device.get("device_id") == device_id
        and isinstance(keys, dict)
        and keys.get(f"ed25519:{device_id}") == own["ed25519"]
        and keys.get(f"curve25519:{device_id}") == own["curve25519"]
    )


async def upload_keys(client: AsyncClient, body: dict, password: str) -> bool:
    """Upload the public keys; if the server asks for user-interactive auth (it need not the
    first time, MSC3967), answer with the password when there is one."""
    status, answer = await _post(client, UPLOAD_KEYS, body)
    if status == 401 and isinstance(answer.get("flows"), list):
        flows = [flow.get("stages") for flow in answer["flows"] if isinstance(flow, dict)]
        if not password or ["m.login.password"] not in flows:
            log.warning("Matrix cross-signing: the homeserver asks for user-interactive auth "
                        "to upload the keys%s; the device stays unverified by its owner",
                        "" if password else " and MATRIX_PASSWORD is not set")  # fmt: skip
            return False
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": client.user_id},
            "password": password,
            "session": answer.get("session"),
        }
        status, answer = await _post(client, UPLOAD_KEYS, {**body, "auth": auth})
    if status != 200:
        log.warning("Matrix cross-signing: the upload of the keys was refused (HTTP %s %s); "
                    "the device stays unverified by its owner", status, _why(answer))  # fmt: skip
        return False
    return True


async def _post(client: AsyncClient, path: str, body: dict) -> tuple[int, dict]:
    """POST JSON to the client-server API: the status and the answer's JSON object (empty if
    it is not one)."""
    headers = {"Authorization": f"Bearer {client.access_token}",
               "Content-Type": "application/json"}  # fmt: skip
    response = await client.send("POST", path, json.dumps(body), headers=headers)
    async with response:
        with contextlib.suppress(ValueError):
            answer = await response.json(content_type=None)
            return response.status, answer if isinstance(answer, dict) else {}
        return response.status, {}


def _why(answer: dict) -> str:
    return for_log(answer.get("errcode") or "")
