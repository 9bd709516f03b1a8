"""A Matrix room's history read as units for `bot.history` (`convener import matrix <room>`).

The bot signs in as the live adapter does (`MatrixAdapter._login`: the access token and device
kept in the database, or `MATRIX_ACCESS_TOKEN`, else a password login kept for the live bot,
whose new device's keys are uploaded as at a first start), so the device's key store in
`MATRIX_STORE_PATH` decrypts what the running bot has received keys for. Nothing is synced and
no room key is requested: to-device messages, and with them new keys, are the running bot's.
The room (an id, or an alias resolved first) must be one the bot has joined; anything else is
`BadInput`, raised before the first unit.

`/messages` is read forwards (`dir=f`) from the room's start, one unit per page of `PAGE`
events, oldest first. With `since`, it first pages backwards from now, keeping only the last
token, until a whole page is from before that day; the forward reading starts there and what
came before the day is left out. Memory holds one page. A unit's `path` is the room id and the
page's first event id, its `digest` the page's event ids (those from `since` on), so a page
read again unchanged is skipped and one cut by `since` is read again by a run without it.

Events are translated by the live adapter's own code (`TranslationMixin.translate`, with the
room's current state as nio keeps it for a synced room): the same ids, kinds and fields. What
history adds: an encrypted event is decrypted with the stored keys (one without its key is a
message without text, as live); a message takes the text of its latest edit, which the
homeserver bundles with it (edits are not activity, as live); a deleted (redacted) message is
left out and counted; the bot's own messages are marked `is_bot` (the importer skips them).
The first unit carries the room and its joined members' names (`Profile`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from nio import (
    AsyncClient,
    JoinedRoomsResponse,
    MatrixRoom,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomResolveAliasResponse,
)
from nio.events import Event as NioEvent

from adapters.matrix import events
from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.common import CONNECTION_ERRORS, MatrixError, get_json, log
from adapters.matrix.events import ENCRYPTED, MESSAGE
from adapters.matrix.text import PLATFORM, addressed
from bot.db import Database
from bot.history import BadInput, Profile, Unit, period
from bot.normalise import Malformed
from bot.settings import Settings
from bot.types import ChannelRef, Event, Message, UserRef

PAGE = 100
RETRIES = 5
MAX_WAIT_SECONDS = 30.0
DELETED = "deleted messages"
NOT_TEXT = "messages that are not text (files, images, notices, emotes)"


class _Refused(Exception):
    """The homeserver answered a request with an error that waiting does not cure."""

    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(f"HTTP {status} {errcode}: {message}".strip())
        self.status, self.errcode = status, errcode


@dataclasses.dataclass(frozen=True, slots=True)
class _Raw:
    """An event's JSON where the adapter's translation expects a nio event."""

    source: dict


class RoomHistory:
    """The history of one room (`room`: `!id:server` or `#alias:server`), from `since` (a UTC
    day) or from the start; `units()` reads it. `client` is nio's client while it reads
    (closed at the end, also when the reading is cancelled or cut short); after a run,
    `room_id`, `pages` (read forwards) and `undecryptable` (events counted without text) say
    what was read."""

    def __init__(self, settings: Settings, room: str, since: date | None = None) -> None:
        self.settings = settings
        self.room = room.strip()
        self.start: datetime | None = period(since, None)[0]
        self.client: AsyncClient | None = None
        self.room_id: str | None = None
        self.pages = 0
        self.undecryptable = 0

    async def units(self) -> AsyncIterator[Unit]:
        """The room and its members, then each page of its history, oldest first."""
        room = self.room
        if not (room.startswith("#") and ":" in room) and not (
            room.startswith("!") and len(room) > 1
        ):
            raise BadInput(f"{room}: not a Matrix room; give its id (!abc:example.org) "
                           "or an alias (#general:example.org)")  # fmt: skip
        reader = MatrixAdapter(self.settings)
        reader.db = Database(self.settings.database_url)
        try:
            client = self.client = await self._sign_in(reader)
            room_id = self.room_id = await self._joined(client)
            state = await self._state(client, room_id)
            channel = reader._room(room_id, state)
            yield self._members(reader, room_id, state, channel)
            token = await self._oldest(client, room_id) if self.start else None
            async for chunk in self._pages(client, room_id, token):
                yield await self._unit(reader, room_id, state, channel, chunk)
            if self.undecryptable:
                log.warning("Matrix: %d events of %s could not be decrypted (the bot has no "
                            "key for them); counted as messages without text",
                            self.undecryptable, room_id)  # fmt: skip
        finally:
            try:
                await reader.close(0)
            finally:
                await reader.db.dispose()

    # The room ----------------------------------------------------------------------------

    async def _sign_in(self, reader: MatrixAdapter) -> AsyncClient:
        url = self.settings.matrix_homeserver
        try:
            await reader._login()
            reader._direct = await reader._load_direct()
        except CONNECTION_ERRORS as exc:
            raise BadInput(f"cannot reach the Matrix homeserver {url}: {exc!r}") from exc
        except MatrixError as exc:
            raise BadInput(f"cannot sign in to {url}: {exc}") from exc
        assert reader.client is not None
        return reader.client

    async def _joined(self, client: AsyncClient) -> str:
        """The room's id, once it is known to be one the bot has joined."""
        room = self.room
        room_id = room
        if room.startswith("#"):
            resolved = await _answer(client.room_resolve_alias(room), room)
            if not isinstance(resolved, RoomResolveAliasResponse):
                if getattr(resolved, "status_code", None) == "M_NOT_FOUND":
                    raise BadInput(f"{room}: no such room (the homeserver knows no such alias)")
                raise BadInput(f"{room}: the alias cannot be resolved: {_why(resolved)}")
            room_id = resolved.room_id
        joined = await _answer(client.joined_rooms(), room)
        if not isinstance(joined, JoinedRoomsResponse):
            raise BadInput(f"{room}: cannot list the bot's rooms: {_why(joined)}")
        if room_id not in joined.rooms:
            raise BadInput(f"{room}: the bot ({self.settings.matrix_user_id}) is not in this "
                           "room; invite it first")  # fmt: skip
        return room_id

    async def _state(self, client: AsyncClient, room_id: str) -> MatrixRoom:
        """The room as nio keeps a synced one (its name, members and encryption), from its
        current state."""
        response = await _answer(client.room_get_state(room_id), self.room)
        if not isinstance(response, RoomGetStateResponse):
            raise BadInput(f"{self.room}: cannot read the room's state: {_why(response)}")
        room = MatrixRoom(room_id, self.settings.matrix_user_id)
        for source in response.events:
            event = NioEvent.parse_event(source) if isinstance(source, dict) else None
            if isinstance(event, RoomMemberEvent):
                room.handle_membership(event)
            elif event is not None:
                room.handle_event(event)
        return room

    def _members(
        self, reader: MatrixAdapter, room_id: str, room: MatrixRoom, channel: ChannelRef
    ) -> Unit:
        """The room and its joined members, by the names the room shows."""
        bot_id = self.settings.matrix_user_id
        profiles = [
            Profile(reader._user(room, user_id))
            for user_id, user in sorted(room.users.items())
            if user_id != bot_id and not user.invited
        ]
        listed = "\n".join(f"{p.user.id}\t{p.user.name}" for p in profiles)
        digest = hashlib.sha256(f"{channel.name}\n{listed}".encode()).hexdigest()
        return Unit(PLATFORM, f"{room_id} members", digest, profiles=profiles,
                    channels=[channel])  # fmt: skip

    # Paging -------------------------------------------------------------------------------

    async def _oldest(self, client: AsyncClient, room_id: str) -> str | None:
        """The token to read forwards from: where the first page back whose events are all
        from before `since` ends (one old event among newer ones, from a server whose clock
        is wrong, does not stop it); None (the room's start) when there is no such page."""
        assert self.start is not None
        start_ms = self.start.timestamp() * 1000
        token: str | None = None
        while True:
            page = await self._messages(client, room_id, "b", token)
            end = page.get("end")
            if not isinstance(end, str) or not end or end == token:
                return None
            times = [_ms(e) for e in page["chunk"] if isinstance(e, dict)]
            if times and all(ms is not None and ms < start_ms for ms in times):
                return end
            token = end

    async def _pages(
        self, client: AsyncClient, room_id: str, token: str | None
    ) -> AsyncIterator[list[dict]]:
        """The room's events from `token` (or its start) to now, a page at a time."""
        while True:
            page = await self._messages(client, room_id, "f", token)
            chunk = [e for e in page["chunk"] if isinstance(e, dict)]
            if chunk:
                self.pages += 1
                yield chunk
            end = page.get("end")
            if not isinstance(end, str) or not end or end == token:
                return
            token = end

    async def _messages(
        self, client: AsyncClient, room_id: str, direction: str, token: str | None
    ) -> dict:
        query = {"dir": direction, "limit": str(PAGE)}
        if token:
            query["from"] = token
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?{urlencode(query)}"
        try:
            page = await _get(client, path)
        except (_Refused, MatrixError) as exc:
            raise BadInput(
                f"{self.room}: reading its history failed ({exc}); what was "
                "written stays: run the same command again to go on"
            ) from exc
        if not isinstance(page.get("chunk"), list):
            raise BadInput(f"{self.room}: the homeserver's answer to /messages has no chunk")
        return page

    # Events -------------------------------------------------------------------------------

    async def _unit(
        self,
        reader: MatrixAdapter,
        room_id: str,
        room: MatrixRoom,
        channel: ChannelRef,
        chunk: list[dict],
    ) -> Unit:
        if self.start is not None:
            start_ms = self.start.timestamp() * 1000
            kept = [e for e in chunk if (_ms(e) or 0) >= start_ms]
        else:
            kept = chunk
        ids = "\n".join(str(e.get("event_id")) for e in kept)
        unit = Unit(PLATFORM, f"{room_id} {chunk[0].get('event_id')}",
                    hashlib.sha256(ids.encode()).hexdigest(), channels=[channel],
                    size=len(chunk))  # fmt: skip
        for source in kept:
            event = await self._event(reader, room_id, room, channel, source, unit)
            if event is not None:
                unit.events.append(event)
        return unit

    async def _event(
        self,
        reader: MatrixAdapter,
        room_id: str,
        room: MatrixRoom,
        channel: ChannelRef,
        source: dict,
        unit: Unit,
    ) -> Event | None:
        kind = source.get("type")
        if events.is_redacted(source):
            if kind in (MESSAGE, ENCRYPTED):
                unit.skipped[DELETED] += 1
            return None
        if kind == ENCRYPTED:
            source = reader._decrypted(room_id, source)
            if source.get("type") == ENCRYPTED:
                self.undecryptable += 1
        own = source.get("sender") == self.settings.matrix_user_id
        if own and source.get("type") in (MESSAGE, ENCRYPTED):
            return self._own(reader, room, channel, source)
        event = reader.translate(room_id, room, _Raw(source))
        if event is None and source.get("type") == MESSAGE:
            content = source.get("content")
            relates_to = content.get("m.relates_to") if isinstance(content, dict) else None
            if not (isinstance(relates_to, dict) and events.is_edit(relates_to)):
                unit.skipped[NOT_TEXT] += 1
        if isinstance(event, Message) and source.get("type") == MESSAGE:
            event = await self._edited(reader, room_id, room, source, event)
        return event

    def _own(
        self, reader: MatrixAdapter, room: MatrixRoom, channel: ChannelRef, source: dict
    ) -> Message | None:
        """A message of the bot's own, marked `is_bot`, which the importer skips and counts
        (the live adapter ignores them)."""
        content = source.get("content")
        if not isinstance(content, dict) or events.is_edit(events.relation(content, [])):
            return None
        try:
            event_id = events.required_id(source, "event_id")
            ts = events.when(source.get("origin_server_ts"))
        except Malformed:
            return None
        bot_id = self.settings.matrix_user_id
        user = UserRef(PLATFORM, bot_id, reader._bot_name(room) or "convener", is_bot=True)
        return events.message(event_id, user, channel, ts, "", None)

    async def _edited(
        self, reader: MatrixAdapter, room_id: str, room: MatrixRoom, source: dict, event: Message
    ) -> Message:
        """The message with the text of its latest edit, when it has one: the one the
        homeserver bundles (decrypted when its key is known), else the edits asked for."""
        edit = events.bundled_edit(source)
        if edit is None:
            return event
        edit = reader._decrypted(room_id, edit)
        replaced = events.new_content(source, edit)
        if replaced is None and events.needs_lookup(edit):
            found = await self._edits(reader, room_id, event.event_id)
            replaced = events.latest_edit(source, [reader._decrypted(room_id, e) for e in found])
        if replaced is None:
            return event
        text = events.body_of(replaced, [])
        text, _ = addressed(replaced, text, self.settings.matrix_user_id, reader._bot_name(room))
        return dataclasses.replace(event, text=text)

    async def _edits(self, reader: MatrixAdapter, room_id: str, event_id: str) -> list[dict]:
        """The latest edits of an event (`/relations/{event}/m.replace`, newest first); none
        when the homeserver refuses."""
        assert reader.client is not None
        path = (
            f"/_matrix/client/v1/rooms/{quote(room_id, safe='')}/relations/"
            f"{quote(event_id, safe='')}/m.replace?{urlencode({'dir': 'b', 'limit': PAGE})}"
        )
        try:
            page = await _get(reader.client, path)
        except (_Refused, MatrixError) as exc:
            log.warning("the edits of %s in %s cannot be read (%s); its first text is kept",
                        event_id, room_id, exc)  # fmt: skip
            return []
        chunk = page.get("chunk")
        return [e for e in chunk if isinstance(e, dict)] if isinstance(chunk, list) else []


def _ms(source: dict) -> int | float | None:
    value = source.get("origin_server_ts")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _why(response: Any) -> str:
    return str(getattr(response, "message", None) or response)


async def _answer(request: Any, room: str) -> Any:
    """nio's answer to a request (it retries "slow down" itself); a lost connection is
    `BadInput`."""
    try:
        return await request
    except CONNECTION_ERRORS as exc:
        raise BadInput(f"{room}: the Matrix homeserver cannot be reached: {exc!r}") from exc


async def _get(client: AsyncClient, path: str) -> dict:
    """GET a client-server API path: its JSON object. A lost connection, a server fault or
    "slow down" is tried again, waiting longer each time (`RETRIES` times); any other
    refusal raises `_Refused`, and giving up `MatrixError`."""
    wait = 1.0
    why = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_WAIT_SECONDS)
        try:
            status, body = await get_json(client, path)
        except CONNECTION_ERRORS as exc:
            why = repr(exc)
            continue
        if body is None:
            why = f"HTTP {status}, not JSON"
            if status >= 500:
                continue
            raise _Refused(status, "", "not JSON")
        if status == 200 and isinstance(body, dict):
            return body
        found = body if isinstance(body, dict) else {}
        errcode, message = str(found.get("errcode") or ""), str(found.get("error") or "")
        why = f"HTTP {status} {errcode} {message}".strip()
        if status == 429:
            retry_ms = found.get("retry_after_ms")
            if isinstance(retry_ms, int) and retry_ms > 0:
                wait = min(retry_ms / 1000, MAX_WAIT_SECONDS)
            continue
        if status >= 500:
            continue
        raise _Refused(status, errcode, message)
    raise MatrixError(f"gave up after {RETRIES + 1} tries: {why}")
