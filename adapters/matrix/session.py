"""Signing in to the homeserver and keeping the device's encryption keys: nio's client with its
key store, a login that reuses the stored device, its signature by the account's own
cross-signing identity (`crosssigning`), and the upkeep of keys after each sync.
A mixin of `MatrixAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse
from nio.crypto import ENCRYPTION_ENABLED

from adapters.matrix import crosssigning
from adapters.matrix.common import MatrixError, log
from bot import logs


class SessionMixin:
    def _new_client(self) -> AsyncClient:
        """nio's client; with encryption, its key store in `matrix_store_dir` (owner only)."""
        settings, store = self.settings, self.settings.matrix_store_dir
        if ENCRYPTION_ENABLED:
            store.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            log.warning("Matrix: encryption is unavailable (install matrix-nio[e2e]); "
                        "encrypted rooms are ignored")  # fmt: skip
        config = AsyncClientConfig(
            max_limit_exceeded=5, max_timeouts=3, request_timeout=60,
            encryption_enabled=ENCRYPTION_ENABLED, store_sync_tokens=False,
        )  # fmt: skip
        return AsyncClient(
            settings.matrix_homeserver,
            settings.matrix_user_id,
            store_path=str(store) if ENCRYPTION_ENABLED else "",
            config=config,
        )

    def _has_keys(self, device: str) -> bool:
        """Whether the key store holds this device's olm account (always, without encryption)."""
        name = f"{self.settings.matrix_user_id}_{device}.db"
        return not ENCRYPTION_ENABLED or (self.settings.matrix_store_dir / name).exists()

    async def _login(self) -> None:
        settings = self.settings
        self.client = self._new_client()
        token = settings.matrix_access_token or await self._get("access_token")
        logs.redact(token)
        device = settings.matrix_device_id or await self._get("device_id") or ""
        if token and not settings.matrix_access_token and not self._has_keys(device):
            # Its keys are lost (or it predates encryption): a new device, with a new store.
            log.warning("Matrix: no keys for device %s in %s; logging in as a new device",
                        device, settings.matrix_store_dir)  # fmt: skip
            token = "" if settings.matrix_password else token
        if token:
            self.client.access_token = token
            who = await self.client.whoami()
            if isinstance(who, WhoamiResponse):
                device = device or who.device_id or ""
                self.client.restore_login(settings.matrix_user_id, device, token)
                log.info("Matrix: signed in as %s (device %s)", settings.matrix_user_id, device)
                await self._keep_keys()
                return
            log.warning("the stored Matrix access token was refused; logging in again")
        if not settings.matrix_password:
            raise MatrixError("MATRIX_ACCESS_TOKEN was refused and no MATRIX_PASSWORD is set")
        response = await self.client.login(settings.matrix_password, device_name="Convener")
        if not isinstance(response, LoginResponse):
            raise MatrixError(f"Matrix login failed: {getattr(response, 'message', response)}")
        logs.redact(response.access_token)
        await self._put(access_token=response.access_token, device_id=response.device_id)
        log.info("Matrix: logged in as %s (device %s)", response.user_id, response.device_id)
        await self._keep_keys()

    async def _cross_sign(self) -> None:
        """Sign the device with the account's own cross-signing identity, made once and kept
        in the store directory (after `_login`, which uploads the device's keys)."""
        if self.client is not None and self.client.olm is not None:
            settings = self.settings
            await crosssigning.bootstrap(
                self.client, settings.matrix_store_dir, settings.matrix_password
            )

    async def _keep_keys(self) -> None:
        """Encryption upkeep: upload the device's keys, learn members' devices, open olm
        sessions, send the to-device messages nio queued (room keys, key requests)."""
        client = self.client
        if client is None or client.olm is None:
            return
        async with self._crypto:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
