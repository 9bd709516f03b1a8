"""What `MatrixAdapter` sends: messages (and the polls that follow some, `polls`), direct rooms
(created encrypted when the member's client does encryption, listed in `m.direct`), files,
permalinks and display names, each `Platform` call one outbound operation that `close()` lets
finish. A mixin of `MatrixAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote

from nio import (
    AsyncClient,
    MatrixRoom,
    ProfileGetDisplayNameResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomPreset,
    RoomSendResponse,
    UploadResponse,
)

from adapters.matrix import events, polls
from adapters.matrix.common import CONNECTION_ERRORS, MatrixError, MatrixNotReady, log
from adapters.matrix.text import PLATFORM, message_content
from bot import moments
from bot.platform import RateLimited, Undeliverable
from bot.types import Action, ChannelRef, Home, OutboundFile, Sent, UserRef

T = TypeVar("T")

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
MATRIX_TO = "https://matrix.to/#/"


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


def _refusal(where: str, response: object) -> Exception:
    """A refused request as the core's outbox knows it: "slow down" (after nio's own
    retries), for good (not allowed), or a fault to retry."""
    code, message = getattr(response, "status_code", None), getattr(response, "message", "")
    if code == "M_LIMIT_EXCEEDED":
        retry_ms = getattr(response, "retry_after_ms", None) or 5000
        return RateLimited(retry_ms / 1000, f"Matrix: rate limited ({where})")
    if code == "M_FORBIDDEN":
        return Undeliverable(f"Matrix: not allowed ({where}: {message})")
    return MatrixError(f"Matrix refused {where}: {message or response}")


def in_thread(thread_id: str) -> dict[str, Any]:
    """The relation of an event sent into the thread of `thread_id`, with the reply fallback
    clients without threads show."""
    return {
        "rel_type": "m.thread",
        "event_id": thread_id,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": thread_id},
    }


_under_way: ContextVar[bool] = ContextVar("matrix_operation_under_way", default=False)


def outgoing(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Run a `Platform` method as one outbound operation (see `MatrixAdapter._operation`)."""

    @functools.wraps(method)
    async def operation(self: OutboundMixin, *args: Any, **kwargs: Any) -> T:
        async with self._operation():
            return await method(self, *args, **kwargs)

    return operation


class OutboundMixin(polls.PollsMixin):
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

    async def _send(self, room_id: str, content: dict, kind: str = "m.room.message") -> str:
        await self._learn_room(room_id)
        room = self._outbound().rooms.get(room_id)
        # nio's key queries, claims and sharing are not safe side by side: one at a time.
        crypto = self._crypto if room is not None and room.encrypted else contextlib.nullcontext()
        async with crypto:
            if room is not None and room.encrypted and self._outbound().should_query_keys:
                await self._request(lambda client: client.keys_query())  # new members' devices
            response = await self._request(
                lambda client: client.room_send(
                    room_id, kind, content, ignore_unverified_devices=True
                )
            )
        if not isinstance(response, RoomSendResponse):
            raise _refusal(f"sending to {room_id}", response)
        return response.event_id

    @outgoing
    async def send(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        """Post `text` (Markdown, also sent as HTML). Matrix has no buttons, and the text
        already says which command to type; actions that form one choice (`Action.poll`)
        follow a post in a room as a poll (`polls`), other actions are ignored."""
        return await self._post(channel, text, thread_id, actions)

    async def _post(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
        asks: bool = False,
    ) -> Sent:
        text = moments.plain(text)  # Matrix has no way to show a time in each reader's terms
        content = message_content(text, self.settings.matrix_user_id, asks)  # type, mentions
        if thread_id:
            content["m.relates_to"] = in_thread(thread_id)
        sent = Sent(channel, await self._send(channel.id, content), text, thread_id)
        answers = polls.choice(actions)
        if answers and not channel.is_direct and not thread_id:
            await self._start_poll(channel.id, sent.message_id, text, answers)
        return sent

    def dm_cost(self, user: UserRef) -> int:
        """Requests a direct message costs against Synapse's message rate (`rc_message`
        limits room creation too): one more when the direct room is still to be made."""
        return 1 if user.id in self._direct else 2

    @outgoing
    async def direct_room(self, user_id: str) -> str:
        """The member's direct room with the bot: the one recorded for them (a direct chat
        they opened, see `_take_direct_room`, or one the bot made), unless someone else has
        come into it; else a new one, recorded. One at a time per member: rooms are handled
        side by side."""
        room_id = self._direct.get(user_id)
        if room_id and self._only_us(room_id, user_id):
            return room_id
        async with self._opening.setdefault(user_id, asyncio.Lock()):
            room_id = await self._recorded_direct(user_id) or await self._new_direct(user_id)
        self._opening.pop(user_id, None)
        return room_id

    def _only_us(self, room_id: str, user_id: str, seen: bool = False) -> bool:
        """Whether nobody but the bot and the member is in the room (joined or invited) as
        far as the sync knows; a room it has not seen is taken on trust unless `seen`, which
        also asks for the member to be in it."""
        client = self._outbound()
        room = client.rooms.get(room_id)
        if room is None:
            return not seen
        members = set(room.users)
        return members <= {client.user_id, user_id} and (user_id in members or not seen)

    async def _recorded_direct(self, user_id: str) -> str | None:
        """The member's direct room as the state (where another replica may have recorded
        one since) or this replica knows it, unless someone else is in it."""
        stored = (await self._load_direct()).get(user_id)
        for room_id in dict.fromkeys((stored, self._direct.get(user_id))):
            if room_id and self._only_us(room_id, user_id):
                self._direct[user_id] = room_id
                return room_id
            if room_id:
                log.warning("%s is no longer a direct room: someone else is in it", room_id)
        return None

    async def _new_direct(self, user_id: str) -> str:
        encrypted = await self._encrypts(user_id)
        initial_state = [ENCRYPTION_STATE] if encrypted else ()
        response = await self._request(
            lambda client: client.room_create(
                is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[user_id],
                initial_state=initial_state,
            )
        )  # fmt: skip
        if not isinstance(response, RoomCreateResponse):
            raise _refusal(f"a direct room with {user_id}", response)
        if encrypted:
            self._know_direct_room(response.room_id, user_id)
        await self._remember_direct(user_id, response.room_id)
        return response.room_id

    async def _remember_direct(self, user_id: str, room_id: str) -> None:
        """Record the member's direct room here, in the state (with what other replicas
        recorded there) and in the bot's `m.direct`, so that a restart uses it too."""
        self._direct = {**self._direct, **await self._load_direct(), user_id: room_id}
        await self._put(**{"m.direct": json.dumps(self._direct)})
        await self._write_m_direct()

    async def _take_direct_room(self, user_id: str, room_id: str) -> None:
        """A direct chat the member opened with the bot (or that the bot's `m.direct` lists)
        is their direct room from now on. If it cannot be recorded, it is used until the
        next start, and the fault logged: the sync goes on."""
        self._direct[user_id] = room_id
        try:
            await self._remember_direct(user_id, room_id)
        except Exception as exc:
            log.error("could not record %s as the direct room of %s: %r", room_id, user_id, exc)

    async def _encrypts(self, *user_ids: str) -> bool:
        """Whether each member's client does encryption (a device of theirs has published
        keys), so that a room the bot makes for them is created encrypted; False without
        encryption."""
        if self._outbound().olm is None:
            return False
        body = json.dumps({"device_keys": {user_id: [] for user_id in user_ids}})
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
            log.warning("could not ask for the devices of %s: %r", ", ".join(user_ids), exc)
            return False
        devices = answer.get("device_keys", {}) if isinstance(answer, dict) else {}
        return isinstance(devices, dict) and all(devices.get(u) for u in user_ids)

    def _know_direct_room(self, room_id: str, *user_ids: str) -> None:
        """Tell nio what it may not have synced yet of a room just created for members (a
        direct room, a group): that it is encrypted and the members invited, so the first
        message is encrypted and its room key shared with their devices. A sync may have
        caught the room half made (Synapse sends the creation, the encryption and the invites
        one by one): nio would then send in the clear, or share the key with the bot alone
        and the members could not read it."""
        client = self._outbound()
        room = client.rooms.setdefault(room_id, MatrixRoom(room_id, client.user_id, True))
        room.encrypted = True
        client.encrypted_rooms.add(room_id)
        for user_id in user_ids:
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

    @outgoing
    async def send_dm(self, user: UserRef, text: str, actions: Sequence[Action] = ()) -> Sent:
        """Write in the member's direct room. Actions draw nothing, as in `send`, but a
        message with them asks the member to act, so it notifies (`m.text`, not a notice)."""
        room_id = await self.direct_room(user.id)
        where = ChannelRef(PLATFORM, room_id, user.name, is_direct=True)
        sent = await self._post(where, text, asks=bool(actions))
        sent.private_to = user
        return sent

    @outgoing
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

    @outgoing
    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        """Into the member's direct room, `text` first."""
        room_id = await self.direct_room(user.id)
        channel = ChannelRef(PLATFORM, room_id, is_direct=True)
        sent = await self._post_file(channel, file, text, None)
        sent.private_to = user
        return sent

    @outgoing
    async def post_file(
        self,
        channel: ChannelRef,
        file: OutboundFile,
        text: str = "",
        thread_id: str | None = None,
    ) -> Sent:
        """Into a room (its thread `thread_id`), `text` first: an `m.file`, encrypted in an
        encrypted room."""
        return await self._post_file(channel, file, text, thread_id)

    async def _post_file(
        self, channel: ChannelRef, file: OutboundFile, text: str, thread_id: str | None
    ) -> Sent:
        room_id = channel.id
        if text:
            await self._post(channel, text, thread_id)
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
        if thread_id:
            content["m.relates_to"] = in_thread(thread_id)
        event_id = await self._send(room_id, content)
        return Sent(channel, event_id, file.filename, thread_id, file=file)

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        """`https://matrix.to/#/<room id>/<event id>?via=<server>`, both ids percent-encoded,
        routed through the room id's server (the bot's own when the room id names none).
        Needs no homeserver request; None for an empty message id."""
        if not message_id or not channel.id:
            return None
        via = _server_of(channel.id) or _server_of(self.settings.matrix_user_id)
        link = f"{MATRIX_TO}{_to_part(channel.id)}/{_to_part(message_id)}"
        return f"{link}?via={quote(via, safe='')}" if via else link

    async def locale(self, user: UserRef) -> str | None:
        """Matrix has no notion of a user's language."""
        return None

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        return False

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
