"""`MatrixAdapter`: matrix-nio's `AsyncClient`, synced in our own loop so that each batch is
handled before its token is stored (a crash means events are seen again, and the core's
event-id dedupe drops them, never that they are lost).

State kept in the database (scope `matrix:<bot user id>`): the access token and device id
of a password login (a restart reuses the device), the sync token, and one direct room per
member (also written to the `m.direct` account data clients use to list direct chats).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginResponse,
    MatrixRoom,
    ProfileGetDisplayNameResponse,
    ReactionEvent,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UnknownEvent,
    UploadResponse,
    WhoamiResponse,
)

from adapters.matrix import events
from adapters.matrix.text import PLATFORM, strip_mention, to_html, user_from_mention
from bot import state
from bot.settings import Settings
from bot.types import ChannelRef, Event, OutboundFile, Sent, UserRef

if TYPE_CHECKING:
    from bot.app import Convener

log = logging.getLogger(__name__)

SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 100}},
}
MAX_BACKOFF_SECONDS = 30.0
CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class MatrixError(RuntimeError):
    """The homeserver refused an operation (the message says why)."""


class MatrixAdapter:
    name = PLATFORM

    def __init__(self, settings: Settings, sync_timeout_ms: int = 30_000) -> None:
        self.settings = settings
        self.sync_timeout_ms = sync_timeout_ms
        self.bot_user: UserRef | None = None
        self.client: AsyncClient | None = None
        self.app: Convener | None = None
        self.scope = f"matrix:{settings.matrix_user_id}"
        self._direct: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self.syncs = 0
        self.synced = asyncio.Condition()

    # State --------------------------------------------------------------------------------

    async def _get(self, key: str) -> str | None:
        assert self.app is not None
        async with self.app.db.sessions() as session:
            return await state.get(session, self.scope, key)

    async def _put(self, **values: str) -> None:
        assert self.app is not None
        async with self.app.db.sessions() as session:
            for key, value in values.items():
                await state.put(session, self.scope, key, value)
            await session.commit()

    # Start and sync -----------------------------------------------------------------------

    async def _login(self) -> None:
        settings = self.settings
        self.client = AsyncClient(
            settings.matrix_homeserver,
            settings.matrix_user_id,
            config=AsyncClientConfig(max_limit_exceeded=5, max_timeouts=3, request_timeout=60),
        )
        token = settings.matrix_access_token or await self._get("access_token")
        device = settings.matrix_device_id or await self._get("device_id") or ""
        if token:
            self.client.restore_login(settings.matrix_user_id, device, token)
            if isinstance(await self.client.whoami(), WhoamiResponse):
                return
            log.warning("the stored Matrix access token was refused; logging in again")
        if not settings.matrix_password:
            raise MatrixError("MATRIX_ACCESS_TOKEN was refused and no MATRIX_PASSWORD is set")
        response = await self.client.login(settings.matrix_password, device_name="Convener")
        if not isinstance(response, LoginResponse):
            raise MatrixError(f"Matrix login failed: {getattr(response, 'message', response)}")
        await self._put(access_token=response.access_token, device_id=response.device_id)

    async def run(self, app: Convener) -> None:
        """Log in, catch up, then sync until cancelled; connection faults back off and retry."""
        self.app = app
        await self._login()
        assert self.client is not None
        self.bot_user = UserRef(PLATFORM, self.settings.matrix_user_id, "convener", is_bot=True)
        self._direct = json.loads(await self._get("m.direct") or "{}")
        since = await self._get("next_batch")
        first = since is None
        backoff = 1.0
        while True:
            try:
                response = await self.client.sync(
                    timeout=0 if first or self.syncs == 0 else self.sync_timeout_ms,
                    sync_filter=SYNC_FILTER,
                    since=since,
                    full_state=self.syncs == 0,
                )
            except CONNECTION_ERRORS as exc:
                log.warning("Matrix sync failed (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if not isinstance(response, SyncResponse):
                log.warning("Matrix sync refused: %s; retrying in %.0f s",
                            getattr(response, "message", response), backoff)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 1.0
            await self._accept_invites(response)
            if not first:  # the very first start does not replay the rooms' history
                await self._handle(response)
            first = False
            since = response.next_batch
            await self._put(next_batch=since)
            async with self.synced:
                self.syncs += 1
                self.synced.notify_all()

    async def _accept_invites(self, response: SyncResponse) -> None:
        assert self.client is not None
        allowed = set(self.settings.matrix_room_list)
        for room_id, info in response.rooms.invite.items():
            aliases = {
                e.source.get("content", {}).get("alias")
                for e in info.invite_state
                if getattr(e, "source", None)
            }
            if allowed and not (allowed & ({room_id} | aliases)):
                log.info("ignoring an invite to %s (not in MATRIX_ROOMS)", room_id)
                continue
            joined = await self.client.join(room_id)
            if isinstance(joined, JoinError):
                log.error("could not join %s: %s", room_id, joined.message)

    async def _handle(self, response: SyncResponse) -> None:
        assert self.client is not None and self.app is not None
        for room_id, info in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            for raw in self._since_own_join(info.timeline.events):
                try:
                    event = self.translate(room_id, room, raw)
                except Exception:
                    log.exception("could not read Matrix event %s", getattr(raw, "event_id", "?"))
                    continue
                if event is not None:
                    await self.app.handle(event)

    def _since_own_join(self, timeline: list) -> list:
        """A room the bot has just joined comes with some of its history: what happened
        before the bot's own join is not new (nobody is welcomed for having been there)."""
        for index in range(len(timeline) - 1, -1, -1):
            raw = timeline[index]
            if (
                isinstance(raw, RoomMemberEvent)
                and raw.state_key == self.settings.matrix_user_id
                and raw.membership == "join"
                and raw.prev_membership != "join"
            ):
                return timeline[index + 1 :]
        return timeline

    # Translation --------------------------------------------------------------------------

    def _user(self, room: MatrixRoom | None, user_id: str) -> UserRef:
        name = room.user_name(user_id) if room is not None else None
        return UserRef(PLATFORM, user_id, name or user_id, is_bot=False)

    def _room(self, room_id: str, room: MatrixRoom | None) -> ChannelRef:
        direct = room_id in self._direct.values()
        if room is not None and not direct:
            direct = (room.joined_count + room.invited_count) == 2 and room.is_group
        name = room.display_name if room is not None else room_id
        return ChannelRef(PLATFORM, room_id, name if direct else f"#{name}", is_direct=direct)

    def translate(self, room_id: str, room: MatrixRoom | None, raw: Any) -> Event | None:
        """A core event for a nio timeline event, or None for what the core does not need."""
        bot_id = self.settings.matrix_user_id
        sender = getattr(raw, "sender", None)
        if sender == bot_id and not isinstance(raw, RoomMemberEvent):
            return None
        channel = self._room(room_id, room)
        ts = getattr(raw, "server_timestamp", 0)
        content = raw.source.get("content", {}) if hasattr(raw, "source") else {}
        if isinstance(raw, RoomMessageText):
            if (content.get("m.relates_to") or {}).get("rel_type") == "m.replace":
                return None  # an edit is not new activity
            body, mentioned = strip_mention(raw.body, bot_id, self._bot_name(room))
            return events.message(raw.event_id, self._user(room, sender), channel, ts, body,
                                  content, mentioned)  # fmt: skip
        if isinstance(raw, RoomMemberEvent):
            if raw.state_key == bot_id:
                return None
            return events.membership(raw.event_id, self._user(room, raw.state_key), channel, ts,
                                     raw.membership, raw.prev_membership)  # fmt: skip
        if isinstance(raw, ReactionEvent) or (
            isinstance(raw, UnknownEvent) and raw.type == "m.reaction"
        ):
            return events.reaction(raw.event_id, self._user(room, sender), channel, ts, content)
        return None

    def _bot_name(self, room: MatrixRoom | None) -> str | None:
        if room is None:
            return None
        return room.user_name(self.settings.matrix_user_id)

    # Platform -----------------------------------------------------------------------------

    async def _send(self, room_id: str, content: dict) -> str:
        assert self.client is not None
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise MatrixError(f"sending to {room_id} failed: {getattr(response, 'message', '')}")
        return response.event_id

    async def send(self, channel: ChannelRef, text: str, thread_id: str | None = None) -> Sent:
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

    async def direct_room(self, user_id: str) -> str:
        """The member's direct room with the bot: reused, else created and listed in
        `m.direct`."""
        assert self.client is not None
        room_id = self._direct.get(user_id)
        if room_id:
            return room_id
        response = await self.client.room_create(
            is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[user_id]
        )
        if not isinstance(response, RoomCreateResponse):
            raise MatrixError(f"could not open a direct room with {user_id}: {response}")
        self._direct[user_id] = response.room_id
        mapping = json.dumps(self._direct)
        await self._put(**{"m.direct": mapping})
        await self._write_m_direct()
        return response.room_id

    async def _write_m_direct(self) -> None:
        assert self.client is not None
        path = (
            f"/_matrix/client/v3/user/{quote(self.settings.matrix_user_id)}/account_data/m.direct"
        )
        body = json.dumps({user: [room] for user, room in self._direct.items()})
        headers = {
            "Authorization": f"Bearer {self.client.access_token}",
            "Content-Type": "application/json",
        }
        response = await self.client.send("PUT", path, body, headers=headers)
        if response.status != 200:
            log.warning("could not record m.direct (HTTP %s)", response.status)

    async def send_dm(self, user: UserRef, text: str) -> Sent:
        room_id = await self.direct_room(user.id)
        sent = await self.send(ChannelRef(PLATFORM, room_id, user.name, is_direct=True), text)
        sent.private_to = user
        return sent

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

    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        assert self.client is not None
        room_id = await self.direct_room(user.id)
        if text:
            await self.send(ChannelRef(PLATFORM, room_id, is_direct=True), text)
        uploaded, _ = await self.client.upload(
            io.BytesIO(file.data),
            content_type=file.mimetype,
            filename=file.filename,
            filesize=len(file.data),
        )
        if not isinstance(uploaded, UploadResponse):
            raise MatrixError(f"upload of {file.filename} failed: {uploaded}")
        event_id = await self._send(
            room_id,
            {
                "msgtype": "m.file",
                "body": file.filename,
                "filename": file.filename,
                "url": uploaded.content_uri,
                "info": {"mimetype": file.mimetype, "size": len(file.data)},
            },
        )
        channel = ChannelRef(PLATFORM, room_id, is_direct=True)
        return Sent(channel, event_id, file.filename, private_to=user, file=file)

    async def display_name(self, user: UserRef) -> str:
        if user.name and user.name != user.id:
            return user.name
        if user.id in self._names:
            return self._names[user.id]
        assert self.client is not None
        response = await self.client.get_displayname(user.id)
        name = user.id
        if isinstance(response, ProfileGetDisplayNameResponse) and response.displayname:
            name = response.displayname
        self._names[user.id] = name
        return name

    def user_from_mention(self, text: str) -> UserRef | None:
        return user_from_mention(text)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
