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
of a password login (a restart reuses the device), the sync token, and one direct room per
member (also written to the `m.direct` account data clients use to list direct chats).

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
without text, is logged, and its key is requested from the sender's devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    ProfileGetDisplayNameResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.crypto import ENCRYPTION_ENABLED

from adapters.matrix import events
from adapters.matrix.events import ENCRYPTED, MEMBER, MESSAGE, REACTION
from adapters.matrix.text import PLATFORM, strip_mention, to_html, user_from_mention
from bot import logs, moments, state
from bot.leader import Lease
from bot.normalise import NAME_CHARS, Malformed
from bot.settings import Settings
from bot.types import Action, ChannelRef, Event, OutboundFile, Sent, ThreadMessage, UserRef

if TYPE_CHECKING:
    from bot.db import Database
    from bot.platform import Intake

log = logging.getLogger(__name__)
T = TypeVar("T")

TIMELINE_LIMIT = 100
BACKFILL_PAGE = 100
MAX_BACKFILL_EVENTS = 20_000
RELATIONS_PAGE = 100
MAX_THREAD_EVENTS = 1_000
MAX_BACKOFF_SECONDS = 30.0
CLOSE_GRACE_SECONDS = 5.0
CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
MATRIX_TO = "https://matrix.to/#/"


class MatrixError(RuntimeError):
    """The homeserver refused an operation (the message says why)."""


class MatrixNotReady(MatrixError):
    """An outbound operation before the adapter is ready (or after it stopped)."""


class _Retry(Exception):
    """A batch could not be handed over whole: sync again from the same token."""


def _to_part(identifier: str) -> str:
    """One identifier of a matrix.to link, percent-encoded as the spec asks (RFC 3986):
    `!room:server` becomes `!room%3Aserver`, `$event` `%24event`, and a `/` or `+` of a
    hashed event id is encoded too, so the link splits back into the same identifiers."""
    return quote(identifier, safe="!")


def _server_of(identifier: str) -> str:
    """The server name of `!opaque:server` (with its port, if any), or "" for an identifier
    without one (room ids of the newest room versions)."""
    _, colon, server = identifier.partition(":")
    return server if colon else ""


def _label(value: Any) -> str:
    """A value from a payload, safe for a log line."""
    return value[:100] if isinstance(value, str) and value.isprintable() else repr(value)[:100]


_under_way: ContextVar[bool] = ContextVar("matrix_operation_under_way", default=False)


def _outgoing(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Run a `Platform` method as one outbound operation (see `MatrixAdapter._operation`)."""

    @functools.wraps(method)
    async def operation(self: MatrixAdapter, *args: Any, **kwargs: Any) -> T:
        async with self._operation():
            return await method(self, *args, **kwargs)

    return operation


class MatrixAdapter:
    name = PLATFORM

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

    async def _lead(self) -> None:
        """This replica now holds the sync: sync from the token stored last."""
        since = await self._get("next_batch")
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._sync_forever(since), name="matrix sync"
        )
        self._task.add_done_callback(self._sync_ended)

    def _sync_ended(self, task: asyncio.Task) -> None:
        """A sync loop that raised (a refused access token) ends the adapter."""
        if self._done is None or self._done.done() or task.cancelled():
            return
        if task.exception() is not None:
            self._done.set_exception(task.exception())  # type: ignore[arg-type]

    async def _follow(self) -> None:
        """The sync lease is gone (stopping, or the database connection was lost): stop
        syncing; a batch in hand gets `_sync_grace` seconds, else the next holder syncs it
        again from the stored token (the core drops what it has already seen)."""
        task, self._stopping = self._task, True
        if task is None or task.done():
            return
        if self._polling:
            task.cancel()
        done, _ = await asyncio.wait([task], timeout=self._sync_grace)
        if not done:
            log.warning("the Matrix batch in hand did not finish within %.0f s; "
                        "it will be synced again", self._sync_grace)  # fmt: skip
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

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

    # Start and sync -----------------------------------------------------------------------

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

    async def _sync_forever(self, since: str | None) -> None:
        """Sync until stopped. Connection faults and refusals back off and retry; a refused
        access token ends the loop (and `wait_closed()` raises)."""
        assert self.client is not None
        replay = since is not None  # the very first start does not replay the rooms' history
        first = True
        backoff = 1.0
        while not self._stopping:
            self._polling = True
            try:
                response = await self.client.sync(
                    timeout=0 if first else self.sync_timeout_ms,
                    sync_filter=self.sync_filter,
                    since=since,
                    full_state=first,
                )
            except CONNECTION_ERRORS as exc:
                backoff = await self._back_off(f"Matrix sync failed ({exc!r})", backoff)
                continue
            except Exception as exc:  # nio could not read the answer: stay up, try again
                log.debug("the sync failed", exc_info=True)
                backoff = await self._back_off(f"Matrix sync unreadable ({exc!r})", backoff)
                continue
            if not isinstance(response, SyncResponse):
                if getattr(response, "status_code", None) == "M_UNKNOWN_TOKEN":
                    raise MatrixError(f"the homeserver refused the access token: {response}")
                backoff = await self._back_off(f"Matrix sync refused ({response})", backoff)
                continue
            self._polling = False
            if self._stopping:
                return  # not handed over, so not stored: the next start sees it again
            self._ready.set()
            try:
                await self._accept_invites(response)
                await self._keep_keys()
                if replay:
                    await self._hand_over(response, since)
            except Exception as exc:  # the gap could not be fetched, say: sync it again
                log.debug("the batch failed", exc_info=True)
                why = exc if isinstance(exc, _Retry) else repr(exc)
                backoff = await self._back_off(f"Matrix batch not handed over ({why})", backoff)
                continue
            backoff, self._failing = 1.0, None
            replay, first = True, False
            since = response.next_batch
            await self._store_token(since)
            async with self.synced:
                self.syncs += 1
                self.synced.notify_all()

    async def _back_off(self, why: str, backoff: float) -> float:
        self._polling = True
        self._failing = why
        log.warning("%s; retrying in %.0f s", why, backoff)
        await asyncio.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _store_token(self, token: str) -> None:
        try:
            await self._put(next_batch=token)
        except Exception as exc:  # the batch is handled; a restart sees it again (deduped)
            log.error("could not store the Matrix sync token: %r", exc)

    async def _accept_invites(self, response: SyncResponse) -> None:
        assert self.client is not None
        allowed = set(self.settings.matrix_room_list)
        for room_id, info in response.rooms.invite.items():
            aliases: set[Any] = set()
            for invite_event in info.invite_state:
                source = getattr(invite_event, "source", None)
                content = source.get("content") if isinstance(source, dict) else None
                if isinstance(content, dict) and isinstance(content.get("alias"), str):
                    aliases.add(content["alias"])
            if allowed and not (allowed & ({room_id} | aliases)):
                log.info("ignoring an invite to %s (not in MATRIX_ROOMS)", room_id)
                continue
            joined = await self.client.join(room_id)
            if isinstance(joined, JoinError):
                log.error("could not join %s: %s", room_id, joined.message)

    async def _hand_over(self, response: SyncResponse, since: str | None) -> None:
        """Submit every joined room's new events in order (a limited timeline's gap first),
        then wait until their activity is stored."""
        assert self.client is not None and self.intake is not None
        rooms: list[tuple[str, list]] = []
        for room_id, info in response.rooms.join.items():
            timeline = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch and since:
                gap = await self._backfill(room_id, info.timeline.prev_batch, since)
                known = {getattr(raw, "event_id", None) for raw in timeline}
                gap = [raw for raw in gap if getattr(raw, "event_id", None) not in known]
                timeline = gap + timeline
            rooms.append((room_id, timeline))
        for room_id, timeline in rooms:
            room = self.client.rooms.get(room_id)
            for raw in self._since_own_join(timeline):
                await self._submit(room_id, room, raw)
        await self.intake.persisted()

    async def _submit(self, room_id: str, room: MatrixRoom | None, raw: Any) -> None:
        """Translate and submit one event; a fault is logged on one line and skipped."""
        assert self.intake is not None
        try:
            if isinstance(raw, MegolmEvent):
                await self._undecryptable(room_id, raw)
            event = self.translate(room_id, room, raw)
            if event is not None:
                await self.intake.submit(event, key=room_id)
        except Exception as exc:
            log.error("could not hand over Matrix event %s in %s: %r",
                      _label(getattr(raw, "event_id", None)), room_id, exc)  # fmt: skip
            log.debug("the event failed", exc_info=True)

    async def _undecryptable(self, room_id: str, raw: MegolmEvent) -> None:
        """Log an event nio could not decrypt and ask the sender's devices for its key."""
        log.warning("Matrix: cannot decrypt %s from %s in %s (no room key yet); "
                    "requesting it", _label(raw.event_id), _label(raw.sender),
                    room_id)  # fmt: skip
        if self.client is None or self.client.olm is None:
            return
        raw.room_id = room_id
        try:
            async with self._crypto:
                await self.client.request_room_key(raw)
        except Exception as exc:  # already requested, or the homeserver refused: go on
            log.debug("no room key request for %s: %r", _label(raw.event_id), exc)

    async def _backfill(self, room_id: str, start: str, end: str) -> list:
        """The events of a limited timeline's gap, oldest first: `/messages` backwards from
        the timeline's `prev_batch` to the token the sync started from."""
        assert self.client is not None
        chunks: list = []
        token = start
        while True:
            response = await self.client.room_messages(
                room_id, start=token, end=end, direction=MessageDirection.back,
                limit=BACKFILL_PAGE,
            )  # fmt: skip
            if not isinstance(response, RoomMessagesResponse):
                if getattr(response, "status_code", None) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                    log.warning("cannot fetch the missed events of %s (%s)", room_id, response)
                    break
                raise _Retry(f"fetching the missed events of {room_id} failed: {response}")
            chunks.extend(response.chunk)
            if not response.chunk or not response.end or response.end == token:
                break
            if len(chunks) >= MAX_BACKFILL_EVENTS:
                log.warning("more than %d events missed in %s; the older ones are skipped",
                            MAX_BACKFILL_EVENTS, room_id)  # fmt: skip
                break
            token = response.end
        chunks.reverse()
        self.backfilled += len(chunks)
        if chunks:
            log.info("fetched %d missed events of %s", len(chunks), room_id)
        return chunks

    def _since_own_join(self, timeline: list) -> list:
        """A room the bot has just joined comes with some of its history: what happened
        before the bot's own join is not new (nobody is welcomed for having been there)."""
        bot_id = self.settings.matrix_user_id
        for index in range(len(timeline) - 1, -1, -1):
            source = getattr(timeline[index], "source", None)
            if not (
                isinstance(source, dict)
                and source.get("type") == MEMBER
                and source.get("state_key") == bot_id
                and isinstance(source.get("content"), dict)
            ):
                continue
            try:
                now, before = events.memberships(source, source["content"], [])
            except Malformed:
                continue
            if now == "join" and before != "join":
                return timeline[index + 1 :]
        return timeline

    # Translation --------------------------------------------------------------------------

    def _user(self, room: MatrixRoom | None, user_id: str, fallback: Any = None) -> UserRef:
        name = events.name(room.user_name(user_id)) if room is not None else None
        return UserRef(PLATFORM, user_id, name or events.name(fallback) or user_id, is_bot=False)

    def _room(self, room_id: str, room: MatrixRoom | None) -> ChannelRef:
        direct = room_id in self._direct.values()
        if room is not None and not direct:
            direct = (room.joined_count + room.invited_count) == 2 and room.is_group
        name = (events.name(room.display_name) if room is not None else None) or room_id
        label = name if direct else f"#{name}"[:NAME_CHARS]
        return ChannelRef(PLATFORM, room_id, label, is_direct=direct)

    def translate(self, room_id: str, room: MatrixRoom | None, raw: Any) -> Event | None:
        """A core event for a nio timeline event (read from its raw JSON), or None for what
        the core does not need. A malformed event is dropped, and a malformed optional field
        left out, each with one warning line."""
        source = getattr(raw, "source", None)
        if not isinstance(source, dict):
            return None
        kind = source.get("type")
        if not isinstance(kind, str) or kind not in events.KINDS:
            return None
        dropped: list[str] = []
        try:
            event = self._translate(room_id, room, source, kind, dropped)
        except Malformed as exc:
            log.warning("dropped a malformed Matrix %s event %s in %s: %s",
                        kind, _label(source.get("event_id")), room_id, exc)  # fmt: skip
            return None
        if event is not None and dropped:
            log.warning("Matrix %s event %s in %s: ignored malformed %s",
                        kind, event.event_id, room_id, ", ".join(dropped))  # fmt: skip
        return event

    def _translate(
        self, room_id: str, room: MatrixRoom | None, source: dict, kind: str, dropped: list[str]
    ) -> Event | None:
        bot_id = self.settings.matrix_user_id
        event_id = events.required_id(source, "event_id")
        sender = events.required_id(source, "sender")
        ts = events.when(source.get("origin_server_ts"))
        content = events.content_of(source, dropped)
        channel = self._room(room_id, room)
        if kind == MEMBER:
            member = events.required_id(source, "state_key")
            if member == bot_id:
                return None
            now, before = events.memberships(source, content, dropped)
            user = self._user(room, member, content.get("displayname"))
            return events.membership(event_id, user, channel, ts, now, before)
        if sender == bot_id:
            return None
        if kind == ENCRYPTED:  # undecryptable: activity, without its text
            return events.message(event_id, self._user(room, sender), channel, ts, "", None)
        if kind == MESSAGE:
            if not events.is_text_message(content):
                return None
            relates_to = events.relation(content, dropped)
            if events.is_edit(relates_to):
                return None  # an edit is not new activity
            thread_id = events.thread_of(relates_to, dropped)
            body = events.body_of(content, dropped)
            body, mentioned = strip_mention(body, bot_id, self._bot_name(room))
            return events.message(event_id, self._user(room, sender), channel, ts, body,
                                  thread_id, mentioned)  # fmt: skip
        if kind == REACTION:
            return events.reaction(event_id, self._user(room, sender), channel, ts, content,
                                   dropped)  # fmt: skip
        return None

    def _bot_name(self, room: MatrixRoom | None) -> str | None:
        if room is None:
            return None
        return events.name(room.user_name(self.settings.matrix_user_id))

    # Platform -----------------------------------------------------------------------------

    def _outbound(self) -> AsyncClient:
        """The client, once sending works; `MatrixNotReady` before `ready()` and, for a new
        operation, after `stop()` began (one already under way may finish)."""
        if self._disconnected or (self._closed and not _under_way.get()):
            raise MatrixNotReady("the Matrix adapter is stopped: nothing more can be sent")
        if self.client is None or not self._ready.is_set():
            raise MatrixNotReady(
                "the Matrix adapter is not ready: nothing can be sent before it has logged in "
                "and finished its first sync (start() and ready())"
            )
        return self.client

    @contextlib.asynccontextmanager
    async def _operation(self) -> AsyncIterator[AsyncClient]:
        """One outbound operation (a send, opening a direct room and sending into it...):
        `stop()` lets those under way finish, within its grace, before it disconnects."""
        client = self._outbound()
        mark = _under_way.set(True)
        self._in_flight += 1
        self._idle.clear()
        try:
            yield client
        finally:
            _under_way.reset(mark)
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def _request(self, operation: Callable[[AsyncClient], Awaitable[T]]) -> T:
        async with self._operation() as client:
            return await operation(client)

    async def _learn_room(self, room_id: str) -> None:
        """nio sends only into rooms it knows once encryption is on: a room not synced yet
        (on a standby replica, say) is learnt from its state, encrypted or not."""
        client = self._outbound()
        if client.olm is None or room_id in client.rooms:
            return
        response = await self._request(
            lambda client: client.room_get_state_event(room_id, "m.room.encryption")
        )
        encrypted = isinstance(response, RoomGetStateEventResponse)
        if not encrypted and getattr(response, "status_code", None) != "M_NOT_FOUND":
            raise MatrixError(f"could not tell whether {room_id} is encrypted: {response}")
        client.rooms.setdefault(room_id, MatrixRoom(room_id, client.user_id, encrypted))

    async def _send(self, room_id: str, content: dict) -> str:
        await self._learn_room(room_id)
        room = self._outbound().rooms.get(room_id)
        # nio's key queries, claims and sharing are not safe side by side: one at a time.
        crypto = self._crypto if room is not None and room.encrypted else contextlib.nullcontext()
        async with crypto:
            if room is not None and room.encrypted and self._outbound().should_query_keys:
                await self._request(lambda client: client.keys_query())  # new members' devices
            response = await self._request(
                lambda client: client.room_send(
                    room_id, "m.room.message", content, ignore_unverified_devices=True
                )
            )
        if not isinstance(response, RoomSendResponse):
            raise MatrixError(f"sending to {room_id} failed: {getattr(response, 'message', '')}")
        return response.event_id

    @_outgoing
    async def send(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        """Post `text` (Markdown, also sent as HTML); `actions` are ignored: Matrix has no
        buttons, and the text already says which command to type."""
        text = moments.plain(text)  # Matrix has no way to show a time in each reader's terms
        content: dict[str, Any] = {
            "msgtype": "m.text",
            "body": text,
            "format": "org.matrix.custom.html",
            "formatted_body": to_html(text),
        }
        if thread_id:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_id},
            }
        return Sent(channel, await self._send(channel.id, content), text, thread_id)

    @_outgoing
    async def direct_room(self, user_id: str) -> str:
        """The member's direct room with the bot: reused, else created and listed in
        `m.direct`. One at a time per member: rooms are handled side by side."""
        room_id = self._direct.get(user_id)
        if room_id:
            return room_id
        async with self._opening.setdefault(user_id, asyncio.Lock()):
            room_id = self._direct.get(user_id)
            if room_id:
                return room_id
            encrypted = await self._encrypts(user_id)
            initial_state = [ENCRYPTION_STATE] if encrypted else ()
            response = await self._request(
                lambda client: client.room_create(
                    is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[user_id],
                    initial_state=initial_state,
                )
            )  # fmt: skip
            if not isinstance(response, RoomCreateResponse):
                raise MatrixError(f"could not open a direct room with {user_id}: {response}")
            if encrypted:
                self._know_direct_room(response.room_id, user_id)
            self._direct[user_id] = response.room_id
            await self._put(**{"m.direct": json.dumps(self._direct)})
            await self._write_m_direct()
        self._opening.pop(user_id, None)
        return response.room_id

    async def _encrypts(self, user_id: str) -> bool:
        """Whether the member's client does encryption (a device of theirs has published
        keys), so that their direct room is created encrypted; False without encryption."""
        if self._outbound().olm is None:
            return False
        body = json.dumps({"device_keys": {user_id: []}})
        headers = {
            "Authorization": f"Bearer {self._outbound().access_token}",
            "Content-Type": "application/json",
        }
        try:
            response = await self._request(
                lambda client: client.send("POST", "/_matrix/client/v3/keys/query", body, headers)
            )
            async with response:
                answer = await response.json(content_type=None)
        except (*CONNECTION_ERRORS, ValueError) as exc:
            log.warning("could not ask for the devices of %s: %r", user_id, exc)
            return False
        devices = answer.get("device_keys", {}) if isinstance(answer, dict) else {}
        return isinstance(devices, dict) and bool(devices.get(user_id))

    def _know_direct_room(self, room_id: str, user_id: str) -> None:
        """Tell nio what it may not have synced yet of a direct room just created: that it is
        encrypted and the member invited, so the first message is encrypted and its room key
        shared with the member's devices. A sync may have caught the room half made (Synapse
        sends the creation, the encryption and the invite one by one): nio would then send in
        the clear, or share the key with the bot alone and the member could not read it."""
        client = self._outbound()
        room = client.rooms.setdefault(room_id, MatrixRoom(room_id, client.user_id, True))
        room.encrypted = True
        client.encrypted_rooms.add(room_id)
        room.add_member(user_id, None, None, invited=True)  # no-op when already known
        if client.olm is not None:
            client.invalidate_outbound_session(room_id)  # none yet, unless shared without them
            client.olm.update_tracked_users(room)  # their devices queried before the key goes

    async def _write_m_direct(self) -> None:
        path = (
            f"/_matrix/client/v3/user/{quote(self.settings.matrix_user_id)}/account_data/m.direct"
        )
        body = json.dumps({user: [room] for user, room in self._direct.items()})
        headers = {
            "Authorization": f"Bearer {self._outbound().access_token}",
            "Content-Type": "application/json",
        }
        response = await self._request(
            lambda client: client.send("PUT", path, body, headers=headers)
        )
        if response.status != 200:
            log.warning("could not record m.direct (HTTP %s)", response.status)

    @_outgoing
    async def send_dm(self, user: UserRef, text: str, actions: Sequence[Action] = ()) -> Sent:
        """Write in the member's direct room; `actions` are ignored, as in `send`."""
        room_id = await self.direct_room(user.id)
        sent = await self.send(ChannelRef(PLATFORM, room_id, user.name, is_direct=True), text)
        sent.private_to = user
        return sent

    @_outgoing
    async def send_private(
        self,
        user: UserRef,
        text: str,
        channel: ChannelRef | None = None,
        reply_token: str | None = None,
    ) -> Sent:
        """Matrix has no ephemeral messages: in a direct room answer there, else by DM."""
        if channel is not None and channel.is_direct:
            sent = await self.send(channel, text)
            sent.private_to = user
            return sent
        return await self.send_dm(user, text)

    @_outgoing
    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        room_id = await self.direct_room(user.id)
        if text:
            await self.send(ChannelRef(PLATFORM, room_id, is_direct=True), text)
        await self._learn_room(room_id)
        room = self._outbound().rooms.get(room_id)
        encrypt = room is not None and room.encrypted
        uploaded, keys = await self._request(
            lambda client: client.upload(
                io.BytesIO(file.data),
                content_type=file.mimetype,
                filename=file.filename,
                encrypt=encrypt,
                filesize=len(file.data),
            )
        )
        if not isinstance(uploaded, UploadResponse):
            raise MatrixError(f"upload of {file.filename} failed: {uploaded}")
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": file.filename,
            "filename": file.filename,
            "info": {"mimetype": file.mimetype, "size": len(file.data)},
        }
        if encrypt:  # the key travels in the (encrypted) event
            content["file"] = {**(keys or {}), "url": uploaded.content_uri}
        else:
            content["url"] = uploaded.content_uri
        event_id = await self._send(room_id, content)
        channel = ChannelRef(PLATFORM, room_id, is_direct=True)
        return Sent(channel, event_id, file.filename, private_to=user, file=file)

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        """`https://matrix.to/#/<room id>/<event id>?via=<server>`, both ids percent-encoded,
        routed through the room id's server (the bot's own when the room id names none).
        Needs no homeserver request; None for an empty message id."""
        if not message_id or not channel.id:
            return None
        via = _server_of(channel.id) or _server_of(self.settings.matrix_user_id)
        link = f"{MATRIX_TO}{_to_part(channel.id)}/{_to_part(message_id)}"
        return f"{link}?via={quote(via, safe='')}" if via else link

    @_outgoing
    async def thread(self, channel: ChannelRef, root_id: str) -> list[ThreadMessage]:
        """The thread's replies as they stand, oldest first, without the root: redacted ones
        and what is not text left out, each with its latest edit's text (reply fallback
        stripped) and its own time; the bot's marked `is_bot`. At most the first
        `MAX_THREAD_EVENTS` events of the thread are read. Raises `MatrixError` if the
        homeserver refuses or cannot be reached, `MatrixNotReady` before `ready()`."""
        room_id = channel.id
        sources = await self._relations(room_id, root_id, "m.thread", MAX_THREAD_EVENTS)
        room = self._outbound().rooms.get(room_id)
        replies: list[ThreadMessage] = []
        for source in sources:
            dropped: list[str] = []
            try:
                source = self._decrypted(room_id, source)
                reply = await self._thread_reply(room_id, room, root_id, source, dropped)
            except Malformed as exc:
                log.warning("skipped a malformed reply %s in the thread %s of %s: %s",
                            _label(source.get("event_id")), _label(root_id), room_id,
                            exc)  # fmt: skip
                continue
            if dropped:
                log.warning("reply %s in the thread %s of %s: ignored malformed %s",
                            _label(source.get("event_id")), _label(root_id), room_id,
                            ", ".join(dropped))  # fmt: skip
            if reply is not None:
                replies.append(reply)
        return replies

    def _decrypted(self, room_id: str, source: dict) -> dict:
        """An encrypted event's decrypted JSON, when nio holds its room key; else as it is."""
        client = self.client
        if source.get("type") != ENCRYPTED or client is None or client.olm is None:
            return source
        event = MegolmEvent.from_dict(source)
        if not isinstance(event, MegolmEvent):
            return source
        event.room_id = room_id
        try:
            return client.decrypt_event(event).source
        except Exception:  # no key: left out, like any event that is not text
            return source

    async def _thread_reply(
        self,
        room_id: str,
        room: MatrixRoom | None,
        root_id: str,
        source: dict,
        dropped: list[str],
    ) -> ThreadMessage | None:
        """One event of a thread as it stands now, or None for what is not kept (not a text
        message, redacted, empty)."""
        if source.get("type") != MESSAGE or events.is_redacted(source):
            return None
        event_id = events.required_id(source, "event_id")
        sender = events.required_id(source, "sender")
        ts = events.when(source.get("origin_server_ts"))
        content = events.content_of(source, dropped)
        if event_id == root_id or not events.is_thread_text(content):
            return None
        if events.is_edit(events.relation(content, dropped)):
            return None  # an edit of a reply (it is in the thread only when a client errs)
        replaced = None
        edit = events.bundled_edit(source)
        if edit is not None:
            replaced = events.new_content(source, edit)
            if replaced is None and not isinstance(edit.get("content"), dict):
                # A homeserver before spec v1.7 bundles only the latest edit's id: ask.
                edits = await self._relations(room_id, event_id, "m.replace", MAX_THREAD_EVENTS)
                replaced = events.latest_edit(source, edits)
        text = events.current_text(content, replaced, dropped)
        if not text.strip():
            return None
        bot_id = self.settings.matrix_user_id
        if sender == bot_id:
            name = self._bot_name(room) or (self.bot_user.name if self.bot_user else None)
            user = UserRef(PLATFORM, sender, name, is_bot=True)
        else:
            user = self._user(room, sender)
        return ThreadMessage(event_id, user, text, ts)

    async def _relations(
        self, room_id: str, event_id: str, rel_type: str, limit: int
    ) -> list[dict]:
        """The events related to `event_id` by `rel_type`, oldest first (`dir=f`, spec v1.4),
        page by page, at most `limit` of them; `MatrixError` on a refusal or a fault."""
        path = (
            f"/_matrix/client/v1/rooms/{quote(room_id, safe='')}"
            f"/relations/{quote(event_id, safe='')}/{quote(rel_type, safe='')}"
        )
        found: list[dict] = []
        token: str | None = None
        while len(found) < limit:
            query = {"dir": "f", "limit": str(min(RELATIONS_PAGE, limit - len(found)))}
            if token:
                query["from"] = token
            page = await self._get_json(
                f"{path}?{urlencode(query)}", f"the {rel_type} of {event_id}"
            )
            chunk = page.get("chunk")
            if not isinstance(chunk, list):
                raise MatrixError(f"the {rel_type} relations of {event_id} are unreadable")
            found.extend(event for event in chunk if isinstance(event, dict))
            following = page.get("next_batch")
            if not chunk or not isinstance(following, str) or not following or following == token:
                return found
            token = following
        log.warning("%s of %s in %s has more than %d events; the later ones are left out",
                    rel_type, _label(event_id), room_id, limit)  # fmt: skip
        return found[:limit]

    async def _get_json(self, path: str, what: str) -> dict:
        """GET a client-server API path; the answer's JSON object, or `MatrixError`."""
        headers = {"Authorization": f"Bearer {self._outbound().access_token}"}
        status = None
        try:
            response = await self._request(lambda client: client.send("GET", path, headers=headers))
            async with response:
                status = response.status
                body = await response.json(content_type=None)
        except CONNECTION_ERRORS as exc:
            raise MatrixError(f"could not fetch {what}: {exc!r}") from exc
        except ValueError as exc:  # not JSON
            raise MatrixError(f"could not read {what} (HTTP {status})") from exc
        if status != 200 or not isinstance(body, dict):
            why = body.get("errcode") if isinstance(body, dict) else None
            raise MatrixError(f"could not fetch {what}: HTTP {status} {_label(why or '')}")
        return body

    async def display_name(self, user: UserRef) -> str:
        """The name the event carried, else the profile's (cleaned and cut), else the id."""
        if user.name and user.name != user.id:
            return user.name
        if user.id in self._names:
            return self._names[user.id]
        try:
            response = await self._request(lambda client: client.get_displayname(user.id))
        except (MatrixNotReady, *CONNECTION_ERRORS) as exc:
            log.debug("no display name for %s: %r", user.id, exc)
            return user.id
        name = user.id
        if isinstance(response, ProfileGetDisplayNameResponse):
            name = events.name(response.displayname) or user.id
        self._names[user.id] = name
        return name

    def user_from_mention(self, text: str) -> UserRef | None:
        return user_from_mention(text)
