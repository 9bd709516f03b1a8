"""The activity log: every inbound event once, written in batches.

Events are buffered and inserted in one statement per batch (`INSERT ... ON CONFLICT DO
NOTHING` on the platform event id, so a retried delivery or a second replica adds nothing).
Member and channel ids are cached in memory; only the first sight of a member or channel
costs a transaction. `flush()` runs every `CONVENER_ACTIVITY_FLUSH_SECONDS`, when the buffer
is full, and on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot import members
from bot.models import Activity
from bot.settings import Settings
from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

log = logging.getLogger(__name__)

POSTING_KINDS = ("message", "reply", "reaction")


def kind_of(event: Event, is_command: bool = False) -> str:
    """The activity kind an event counts as."""
    if is_command:
        return "command"
    if isinstance(event, MemberJoined):
        return "join"
    if isinstance(event, MemberLeft):
        return "leave"
    if isinstance(event, ReactionAdded):
        return "reaction"
    if isinstance(event, Message):
        if event.channel.is_direct:
            return "direct"
        return "reply" if event.is_reply else "message"
    return "command"


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class ActivityLog:
    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self._rows: list[dict] = []
        self._seen: _LRU = _LRU(100_000)
        self._member_ids: _LRU = _LRU(200_000)
        self._channel_ids: _LRU = _LRU(50_000)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.written = 0

    async def member_id(self, user: UserRef) -> int:
        key = (user.platform, user.id)
        cached = self._member_ids.get(key)
        if cached is not None:
            return cached
        async with self.sessions() as session:
            member = await members.resolve(session, user, self.clock())
            await session.commit()
            self._member_ids.remember(key, member.id)
            return member.id

    async def channel_id(self, channel: ChannelRef) -> int:
        key = (channel.platform, channel.id)
        cached = self._channel_ids.get(key)
        if cached is not None:
            return cached
        async with self.sessions() as session:
            row = await members.resolve_channel(session, channel)
            await session.commit()
            self._channel_ids.remember(key, row.id)
            return row.id

    def forget_member(self, user: UserRef | None = None) -> None:
        """Drop cached member ids (after linking or erasing members)."""
        if user is None:
            self._member_ids.clear()
        else:
            self._member_ids.pop((user.platform, user.id), None)

    async def record(self, event: Event, kind: str | None = None) -> bool:
        """Buffer one event; False if this event id was already recorded by this process."""
        key = (event.platform, event.event_id)
        if key in self._seen:
            return False
        self._seen.remember(key, True)
        kind = kind or kind_of(event)
        text = getattr(event, "text", None)
        row = {
            "ts": event.ts,
            "member_id": await self.member_id(event.user),
            "channel_id": await self.channel_id(event.channel),
            "kind": kind,
            "platform": event.platform,
            "event_id": event.event_id[:255],
            "message_id": (getattr(event, "message_id", None) or None),
            "thread_id": getattr(event, "thread_id", None),
            "size": len(text) if text else 0,
            "text": text if (text and self.settings.store_message_text) else None,
        }
        self._rows.append(row)
        if len(self._rows) >= self.settings.activity_batch_size:
            await self.flush()
        return True

    async def flush(self) -> int:
        """Write what is buffered; returns the number of rows handed to the database."""
        async with self._lock:
            if not self._rows:
                return 0
            rows, self._rows = self._rows, []
            try:
                async with self.sessions() as session:
                    await session.execute(_insert_ignoring_duplicates(session), rows)
                    await session.commit()
            except Exception:
                self._rows[:0] = rows
                log.exception("could not write %d activity rows; will retry", len(rows))
                raise
            self.written += len(rows)
            return len(rows)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.activity_flush_seconds)
            try:
                await self.flush()
            except Exception:  # logged in flush; the rows stay buffered
                pass

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()


def _insert_ignoring_duplicates(session: AsyncSession):
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(Activity).on_conflict_do_nothing(constraint="uq_activity_event")
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(Activity).on_conflict_do_nothing()
    return insert(Activity)
