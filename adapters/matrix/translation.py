"""Translation of nio's timeline events into core events, with the names of the room and of
its members as the bot's sync knows them; the checks of the raw JSON are in `events`. A mixin
of `MatrixAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

from typing import Any

from nio import MatrixRoom

from adapters.matrix import events
from adapters.matrix.common import for_log, log
from adapters.matrix.events import ENCRYPTED, MEMBER, MESSAGE, REACTION
from adapters.matrix.text import PLATFORM, addressed
from bot.normalise import NAME_CHARS, Malformed
from bot.types import ChannelRef, Event, UserRef


class TranslationMixin:
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
                        kind, for_log(source.get("event_id")), room_id, exc)  # fmt: skip
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
            body, mentioned = addressed(content, body, bot_id, self._bot_name(room))
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
