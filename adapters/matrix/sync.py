"""The sync loop of `MatrixAdapter`: run on the replica holding the sync lease, it accepts
invites, hands each batch over room by room (a limited timeline's gap fetched first with
`/messages`, a just-joined room's older history cut) and stores the token once the batch is
stored. A mixin of `MatrixAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

import asyncio
from typing import Any

from nio import (
    JoinError,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomMessagesResponse,
    SyncResponse,
)

from adapters.matrix import events, polls
from adapters.matrix.common import CONNECTION_ERRORS, MatrixError, for_log, log
from adapters.matrix.events import MEMBER
from adapters.matrix.text import USER_ID
from bot.normalise import Malformed

TIMELINE_LIMIT = 100
BACKFILL_PAGE = 100
MAX_BACKFILL_EVENTS = 20_000
MAX_BACKOFF_SECONDS = 30.0


def direct_inviter(invite_state: list, bot_id: str) -> str | None:
    """Who invited the bot to a direct chat: the sender of the bot's invite when it says
    `is_direct: true` (spec: m.room.member; only the invite carries it), else None. nio
    moves a member event's content out of its `source`, into `content`."""
    for event in invite_state:
        source = getattr(event, "source", None)
        if not isinstance(source, dict) or source.get("type") != MEMBER:
            continue
        content = source.get("content", getattr(event, "content", None))
        sender = source.get("sender")
        if (
            source.get("state_key") == bot_id
            and isinstance(content, dict)
            and content.get("membership") == "invite"
            and content.get("is_direct") is True
            and isinstance(sender, str)
            and sender != bot_id
            and USER_ID.fullmatch(sender)
        ):
            return sender
    return None


class _Retry(Exception):
    """A batch could not be handed over whole: sync again from the same token."""


class SyncMixin:
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
                await self._listed_direct_rooms(response)
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
        """Join the rooms the bot is invited to (those of `MATRIX_ROOMS`, when set). An invite
        marked `is_direct` (a member opening a direct chat, as Element does) makes the room
        that member's direct room."""
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
                continue
            inviter = direct_inviter(info.invite_state, self.settings.matrix_user_id)
            if inviter:
                await self._take_direct_room(inviter, room_id)

    async def _listed_direct_rooms(self, response: SyncResponse) -> None:
        """Rooms the bot's `m.direct` account data lists (written by this adapter, or by
        another client of the bot's account): for a member with no direct room recorded, a
        listed room the sync shows with just the two of them becomes theirs."""
        for event in response.account_data_events:
            content = getattr(event, "content", None)
            if getattr(event, "type", None) != "m.direct" or not isinstance(content, dict):
                continue
            for user_id, rooms in content.items():
                if user_id in self._direct or not isinstance(rooms, list):
                    continue
                for room_id in rooms:
                    if isinstance(room_id, str) and self._only_us(room_id, user_id, seen=True):
                        await self._take_direct_room(user_id, room_id)
                        break

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
            if polls.is_response(raw):  # the command its answer stands for, if Convener's
                event = await self._poll_answer(room_id, room, raw)
            else:
                event = self.translate(room_id, room, raw)
            if event is not None:
                await self.intake.submit(event, key=room_id)
        except polls.Unreadable as exc:
            raise _Retry(str(exc)) from exc
        except Exception as exc:
            log.error("could not hand over Matrix event %s in %s: %r",
                      for_log(getattr(raw, "event_id", None)), room_id, exc)  # fmt: skip
            log.debug("the event failed", exc_info=True)

    async def _undecryptable(self, room_id: str, raw: MegolmEvent) -> None:
        """Log an event nio could not decrypt and ask the sender's devices for its key."""
        log.warning("Matrix: cannot decrypt %s from %s in %s (no room key yet); "
                    "requesting it", for_log(raw.event_id), for_log(raw.sender),
                    room_id)  # fmt: skip
        if self.client is None or self.client.olm is None:
            return
        raw.room_id = room_id
        try:
            async with self._crypto:
                await self.client.request_room_key(raw)
        except Exception as exc:  # already requested, or the homeserver refused: go on
            log.debug("no room key request for %s: %r", for_log(raw.event_id), exc)

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
