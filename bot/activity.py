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
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import members
from bot.db import Database
from bot.settings import Settings
from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

log = logging.getLogger(__name__)

POSTING_KINDS = ("message", "reply", "reaction")
# Rows per write transaction. A quiet flush writes small chunks, so a command waiting for
# SQLite's one write lock waits about a millisecond; a busy one writes large chunks.
QUIET_CHUNK, BUSY_CHUNK = 100, 1000


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


class Recent:
    """A bounded set that forgets its oldest members first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._order: deque = deque()
        self._items: set = set()

    def __contains__(self, item) -> bool:
        return item in self._items

    def add(self, item) -> None:
        self._order.append(item)
        self._items.add(item)
        if len(self._order) > self.size:
            self._items.discard(self._order.popleft())


class ActivityLog:
    """Buffers activity rows and writes them in batches.

    `record()` does no I/O unless the buffer is full: member and channel ids are resolved at
    flush time for the whole batch (cached after), and while one batch is written the next one
    fills. The buffer is bounded: past four batches, `record()` waits for the write.
    """

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._rows: list[tuple[UserRef, ChannelRef, tuple]] = []
        self._seen = Recent(200_000)
        self._member_ids: dict[tuple[str, str], int] = {}
        self._channel_ids: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._writing: asyncio.Task | None = None
        self._unresolved = 0
        self.written = 0

    def forget_member(self, user: UserRef | None = None) -> None:
        """Drop cached member ids (after linking or erasing members)."""
        if user is None:
            self._member_ids.clear()
        else:
            self._member_ids.pop((user.platform, user.id), None)

    async def record(self, event: Event, kind: str | None = None) -> bool:
        """Buffer one event; False if this process has already recorded this event id."""
        key = (event.platform, event.event_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        text = getattr(event, "text", None)
        if (event.platform, event.user.id) not in self._member_ids or (
            event.platform,
            event.channel.id,
        ) not in self._channel_ids:
            self._unresolved += 1
        self._rows.append(
            (
                event.user,
                event.channel,
                (
                    event.ts,
                    kind or kind_of(event),
                    event.platform,
                    event.event_id[:255],
                    getattr(event, "message_id", None) or None,
                    getattr(event, "thread_id", None),
                    len(text) if text else 0,
                    text if (text and self.settings.store_message_text) else None,
                ),
            )
        )
        batch = self.settings.activity_batch_size
        if len(self._rows) >= batch:
            if len(self._rows) >= 4 * batch:
                await self.flush()
            elif self._writing is None or self._writing.done():
                self._writing = asyncio.get_running_loop().create_task(self._flush_quietly())
        return True

    async def settle(self) -> None:
        """Write the buffer if it holds a member or channel seen for the first time, so that
        handlers about to run find every member the log has seen (with the name they came
        with)."""
        if self._unresolved:
            await self.flush()

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except Exception:  # logged in flush; the rows stay buffered for the next attempt
            pass

    def _unresolved_in(self, batch) -> bool:
        return any(
            (user.platform, user.id) not in self._member_ids
            or (channel.platform, channel.id) not in self._channel_ids
            for user, channel, _ in batch
        )

    async def _ids(self, session: AsyncSession, batch) -> None:
        """Fill the id caches for every member and channel in the batch."""
        users = {(u.platform, u.id): u for u, _, _ in batch}
        unknown_users = [u for key, u in users.items() if key not in self._member_ids]
        if unknown_users:
            self._member_ids.update(
                await members.resolve_many(session, unknown_users, self.clock())
            )
        for _, channel, _ in batch:
            key = (channel.platform, channel.id)
            if key not in self._channel_ids:
                self._channel_ids[key] = (await members.resolve_channel(session, channel)).id
        if len(self._member_ids) > 500_000:
            self._member_ids.clear()

    async def flush(self) -> int:
        """Write what is buffered; returns the number of rows handed to the database."""
        async with self._lock:
            if not self._rows:
                return 0
            batch, self._rows = self._rows, []
            unresolved, self._unresolved = self._unresolved, 0
            try:
                if self._unresolved_in(batch):
                    async with self.db.write_lock(), self.db.sessions() as session:
                        await self._ids(session, batch)
                        await session.commit()
                members_, channels = self._member_ids, self._channel_ids
                sql, ts_param = _insert_sql(self.db.engine.dialect.name)
                rows = [
                    (
                        ts_param(row[0]),
                        members_[(user.platform, user.id)],
                        channels[(channel.platform, channel.id)],
                        *row[1:],
                    )
                    for user, channel, row in batch
                ]
                chunk = QUIET_CHUNK if len(rows) <= 10 * QUIET_CHUNK else BUSY_CHUNK
                for start in range(0, len(rows), chunk):
                    async with self.db.write_lock(), self.db.engine.begin() as conn:
                        await conn.exec_driver_sql(sql, rows[start : start + chunk])
            except Exception:
                self._rows[:0] = batch
                self._unresolved += unresolved
                log.exception("could not write %d activity rows; will retry", len(batch))
                raise
            self.written += len(rows)
            return len(rows)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.activity_flush_seconds)
            await self._flush_quietly()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def close(self) -> None:
        for task in (self._task, self._writing):
            if task is not None and not task.done() and task is self._task:
                task.cancel()
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = self._writing = None
        await self.flush()


_COLUMNS = (
    "ts", "member_id", "channel_id", "kind", "platform", "event_id", "message_id", "thread_id",
    "size", "text",
)  # fmt: skip


def _sqlite_ts(ts: datetime) -> str:
    """The text form SQLAlchemy stores SQLite datetimes in (naive UTC, microseconds)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sql(dialect: str) -> tuple[str, Callable[[datetime], object]]:
    """The batch insert as driver SQL, ignoring event ids already stored.

    The hot path hands tuples straight to the driver's executemany: SQLAlchemy's per-row
    bind processing cost more than the database did."""
    columns = ", ".join(_COLUMNS)
    if dialect == "postgresql":
        values = ", ".join(["%s"] * len(_COLUMNS))
        conflict = "ON CONFLICT ON CONSTRAINT uq_activity_event DO NOTHING"
        return f"INSERT INTO activity ({columns}) VALUES ({values}) {conflict}", lambda ts: ts
    values = ", ".join(["?"] * len(_COLUMNS))
    return f"INSERT INTO activity ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING", _sqlite_ts
