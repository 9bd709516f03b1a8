"""Reading a thread as it stands for `MatrixAdapter.thread`, with the relations API (which nio
lacks): `/relations/{root}/m.thread` page by page, each reply with the latest edit the
homeserver bundles (asked for when an older homeserver bundles only its id, or when it cannot
be decrypted), decrypted when its room key is known. nio's decryption drops `unsigned`, where
the bundled edit and redactions are: `events.decrypted` puts the event back together. A mixin
of `MatrixAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from nio import MatrixRoom, MegolmEvent

from adapters.matrix import events
from adapters.matrix.common import CONNECTION_ERRORS, MatrixError, for_log, get_json, log
from adapters.matrix.events import ENCRYPTED, MESSAGE
from adapters.matrix.outbound import outgoing
from adapters.matrix.text import PLATFORM
from bot.normalise import Malformed
from bot.types import ChannelRef, ThreadMessage, UserRef

RELATIONS_PAGE = 100
MAX_THREAD_EVENTS = 1_000


class ThreadsMixin:
    @outgoing
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
                            for_log(source.get("event_id")), for_log(root_id), room_id,
                            exc)  # fmt: skip
                continue
            if dropped:
                log.warning("reply %s in the thread %s of %s: ignored malformed %s",
                            for_log(source.get("event_id")), for_log(root_id), room_id,
                            ", ".join(dropped))  # fmt: skip
            if reply is not None:
                replies.append(reply)
        return replies

    def _decrypted(self, room_id: str, source: dict) -> dict:
        """An encrypted event as its sender wrote it (`events.decrypted`: its bundled edit and
        cleartext relation kept), when nio holds its room key; else as it is."""
        client = self.client
        if source.get("type") != ENCRYPTED or client is None or client.olm is None:
            return source
        if events.is_redacted(source):  # nothing to decrypt (nio would warn it is malformed)
            return source
        event = MegolmEvent.from_dict(source)
        if not isinstance(event, MegolmEvent):
            return source
        event.room_id = room_id
        try:
            payload = client.decrypt_event(event).source
        except Exception:  # no key: left encrypted, which nothing reads as text or an edit
            return source
        readable = events.decrypted(source, payload) if isinstance(payload, dict) else None
        return readable or source

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
            edit = self._decrypted(room_id, edit)
            replaced = events.new_content(source, edit)
            if replaced is None and events.needs_lookup(edit):
                edits = await self._relations(room_id, event_id, "m.replace", MAX_THREAD_EVENTS)
                readable = [self._decrypted(room_id, e) for e in edits]
                replaced = events.latest_edit(source, readable)
                if edit.get("type") == ENCRYPTED:
                    log.warning("reply %s in %s: its latest edit cannot be decrypted; %s kept",
                                for_log(event_id), room_id,
                                "an earlier edit" if replaced else "its text")  # fmt: skip
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
                    rel_type, for_log(event_id), room_id, limit)  # fmt: skip
        return found[:limit]

    async def _get_json(self, path: str, what: str) -> dict:
        """GET a client-server API path; the answer's JSON object, or `MatrixError`."""
        try:
            status, body = await self._request(lambda client: get_json(client, path))
        except CONNECTION_ERRORS as exc:
            raise MatrixError(f"could not fetch {what}: {exc!r}") from exc
        if body is None:  # not JSON
            raise MatrixError(f"could not read {what} (HTTP {status})")
        if status != 200 or not isinstance(body, dict):
            why = body.get("errcode") if isinstance(body, dict) else None
            raise MatrixError(f"could not fetch {what}: HTTP {status} {for_log(why or '')}")
        return body
