"""`MatrixAdapter`: matrix-nio's `AsyncClient`, synced in our own loop so that each batch is
handed to the core and stored before its token is (a crash means events are seen again, and
the core's event-id dedupe drops them, never that they are lost).

Lifecycle (`bot.platform.Adapter`): `start(intake)` logs in (and raises if it cannot) and
starts the sync loop in a task; `ready()` returns once the first sync is in, when sending
works (before that, sending raises `MatrixNotReady`); `wait_closed()` returns when the loop
ends and raises what ended it; `stop(grace)` stops syncing, gives the batch in hand and the
sends under way up to `grace` seconds, then closes the client.

Each sync: invites are accepted; every joined room's timeline is handed over in order, with
`intake.submit(event, key=room_id)` (rooms are handled side by side, each in order). A
`limited` timeline (more events than the sync filter's limit since the last sync, after
downtime for instance) has its gap fetched first with `/messages`, from the timeline's
`prev_batch` back to the token the sync started from. The token is stored once
`intake.persisted()` says the batch's activity is written. A fault in one event is logged on
one line and the loop goes on; a fault of the batch (the homeserver unreachable while
fetching a gap) syncs again from the same token.

State kept in the database (scope `matrix:<bot user id>`): the access token and device id
of a password login (a restart reuses the device), the sync token, one direct room per
member (also written to the `m.direct` account data clients use to list direct chats), and
the room of each group conversation (`groups`).

Matrix has no buttons: the `actions` of `send` and `send_dm` are accepted and ignored (the
text the core sends already says which command to type). `permalink` is a matrix.to link.
`thread` reads a thread's replies as they stand with the relations API (which nio lacks):
`/relations/{root}/m.thread`, each reply with the latest edit the homeserver bundles with it.

Encryption (with `matrix-nio[e2e]`; without it, one line at start and plain rooms only): the
olm account and megolm sessions live in `MATRIX_STORE_PATH`, one file per device, so the
stored device keeps its keys across restarts. After each sync, keys are uploaded, members'
devices queried and olm sessions claimed; nio decrypts the timeline before it is handed over.
Room keys are shared with every device of the room's members, verified or not (trust on
first use: `ignore_unverified_devices`). Direct rooms are created encrypted; files sent into
an encrypted room are encrypted. An event that cannot be decrypted counts as a message
without text, is logged, and its key is requested from the sender's devices. The device is
signed by the account's own cross-signing identity, made at the first start and kept in the
store (`crosssigning`), so that clients that share keys only with cross-signed devices
(MSC4153) still share them with the bot.

The class keeps the state and the lifecycle; the rest comes from one mixin per module:
`session` (login and device keys), `sync` (the sync loop, invites, hand-over, backfill),
`translation` (nio events into core events), `outbound` (sends, direct rooms, files,
permalinks), `groups` (rooms for a few members) and `threads` (reading a thread); `common`
holds what they share.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from adapters.matrix.common import CONNECTION_ERRORS, MatrixError, MatrixNotReady, log
from adapters.matrix.groups import GroupsMixin
from adapters.matrix.outbound import ENCRYPTION_STATE, OutboundMixin
from adapters.matrix.session import SessionMixin
from adapters.matrix.sync import TIMELINE_LIMIT, SyncMixin
from adapters.matrix.text import PLATFORM, user_from_mention
from adapters.matrix.threads import ThreadsMixin
from adapters.matrix.translation import TranslationMixin
from bot import state
from bot.leader import Lease
from bot.platform import Budget
from bot.settings import Settings
from bot.types import UserRef

if TYPE_CHECKING:
    from nio import AsyncClient

    from bot.db import Database
    from bot.platform import Intake

__all__ = [
    "CLOSE_GRACE_SECONDS",
    "ENCRYPTION_STATE",
    "MatrixAdapter",
    "MatrixError",
    "MatrixNotReady",
]

CLOSE_GRACE_SECONDS = 5.0


class MatrixAdapter(
    SessionMixin, SyncMixin, TranslationMixin, OutboundMixin, GroupsMixin, ThreadsMixin
):
    name = PLATFORM
    send_budget = Budget(per_second=0.2, burst=10)
    """Synapse's default `rc_message` for a user who is not exempt; an exempt bot account
    states its own (`CONVENER_SEND_RATES=matrix=unlimited`)."""

    def __init__(
        self,
        settings: Settings,
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = TIMELINE_LIMIT,
    ) -> None:
        self.settings = settings
        self.sync_timeout_ms = sync_timeout_ms
        self.sync_filter = {
            "presence": {"not_types": ["*"]},
            "room": {"timeline": {"limit": timeline_limit}},
        }
        self.bot_user: UserRef | None = None
        self.client: AsyncClient | None = None
        self.intake: Intake | None = None
        self.db: Database | None = None
        self.scope = f"matrix:{settings.matrix_user_id}"
        self._memory: dict[str, str] = {}  # state, when the intake has no database
        self._direct: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task | None = None
        self._done: asyncio.Future | None = None  # resolved when the adapter has stopped
        self._lease: Lease | None = None
        self._sync_grace = 0.0  # for a batch in hand when the sync lease is lost
        self._ready = asyncio.Event()
        self._polling = False  # waiting for the homeserver, not holding a batch
        self._failing: str | None = None  # why the last sync failed, until one succeeds
        self._stopping = False
        self._closed = False  # stopping: no new outbound operation
        self._disconnected = False
        self._in_flight = 0  # outbound operations under way
        self._idle = asyncio.Event()
        self._idle.set()
        self._crypto = asyncio.Lock()  # encryption upkeep and encrypted sends, one at a time
        self.syncs = 0  # batches handed over and their token stored
        self.backfilled = 0  # events fetched to fill the gaps of limited timelines
        self.synced = asyncio.Condition()  # notified after each of those batches

    # State --------------------------------------------------------------------------------

    async def _get(self, key: str) -> str | None:
        if self.db is None:
            return self._memory.get(key)
        async with self.db.sessions() as session:
            return await state.get(session, self.scope, key)

    async def _put(self, **values: str) -> None:
        if self.db is None:
            self._memory.update(values)
            return
        async with self.db.sessions() as session:
            for key, value in values.items():
                await state.put(session, self.scope, key, value)
            await session.commit()

    async def _load_direct(self) -> dict[str, str]:
        try:
            mapping = json.loads(await self._get("m.direct") or "{}")
        except ValueError:
            mapping = None
        if not isinstance(mapping, dict):
            log.warning("the stored Matrix direct rooms are unreadable; starting afresh")
            return {}
        return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}

    # Lifecycle ----------------------------------------------------------------------------

    async def start(self, intake: Intake) -> None:
        """Log in (raises `MatrixError` if the homeserver refuses or cannot be reached), then
        sync in a task of its own, on the one replica holding the `matrix-sync` lease (at
        once on SQLite); the others log in and send, and take the sync over when its holder
        dies, from the token it stored last."""
        if self._done is not None:
            raise MatrixError("the Matrix adapter is already started")
        self.intake = intake
        self.db = getattr(intake, "db", None)
        try:
            await self._login()
            await self._cross_sign()  # before ready: members' clients may require it
            self._direct = await self._load_direct()
        except CONNECTION_ERRORS as exc:
            await self._close_client()
            url = self.settings.matrix_homeserver
            raise MatrixError(f"cannot reach the Matrix homeserver {url}: {exc!r}") from exc
        except BaseException:
            await self._close_client()
            raise
        self.bot_user = UserRef(PLATFORM, self.settings.matrix_user_id, "convener", is_bot=True)
        self._done = asyncio.get_running_loop().create_future()
        self._lease = Lease(
            self.db.url if self.db is not None else "sqlite://",
            f"matrix-sync:{self.settings.matrix_user_id}",
            on_acquired=self._lead,
            on_lost=self._follow,
        )
        await self._lease.start()
        if not self._lease.held:
            log.info("Matrix: another replica syncs; this one sends and stands by")
            self._ready.set()

    async def ready(self) -> None:
        """Return once logged in and the first sync is in (or another replica syncs); raise
        if the adapter ended first."""
        done = self._done
        if done is None:
            raise MatrixNotReady("the Matrix adapter was not started")
        if not self._ready.is_set():
            waiter = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait([waiter, done], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        if self._ready.is_set() and not self._closed:
            return
        if done.done() and not done.cancelled() and done.exception() is not None:
            raise done.exception()  # type: ignore[misc]
        raise MatrixNotReady("the Matrix adapter stopped before its first sync")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def health(self) -> str | None:
        """What is wrong with the sync, or None."""
        if self._closed:
            return "stopping"
        if self._lease is not None and not self._lease.held:
            return "standby: another replica syncs"
        if not self._ready.is_set():
            return "not synced yet"
        if self._task is not None and self._task.done():
            return "the sync has stopped"
        return self._failing

    async def wait_closed(self) -> None:
        """Return when the adapter has stopped; raise what ended it."""
        if self._done is not None:
            await asyncio.wait([self._done])
            if not self._done.cancelled() and self._done.exception() is not None:
                raise self._done.exception()  # type: ignore[misc]

    async def stop(self, grace: float) -> None:
        """Stop syncing: a long poll is dropped at once, and a batch being handed over gets up
        to `grace` seconds (its token is stored only if it finishes). Sending keeps working
        for the handlers the core is still finishing, until `close()`."""
        self._stopping, self._sync_grace = True, grace
        if self._lease is not None:
            await self._lease.stop()  # `_follow` stops the sync, then the lease is released
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Disconnect once sends under way are done (up to `grace` seconds); sending
        afterwards raises `MatrixNotReady`."""
        self._stopping = True
        self._closed = True
        if not self._idle.is_set():
            try:
                async with asyncio.timeout(grace):
                    await self._idle.wait()
            except TimeoutError:
                log.warning("%d Matrix sends still under way at shutdown", self._in_flight)
        self._disconnected = True
        await self._close_client()

    async def _close_client(self) -> None:
        if self.client is not None:
            await self.client.close()

    def user_from_mention(self, text: str) -> UserRef | None:
        return user_from_mention(text)
