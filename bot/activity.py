"""The activity log: every inbound event once, written in batches, never lost, never wedged.

Events are buffered and inserted in chunks (`INSERT ... ON CONFLICT DO NOTHING` on the
platform event id, so a retried delivery or a second replica adds nothing). Each row finds its
member through the identity in the same statement, so a row written by a replica that has not
heard of a merge still lands on the merged member.

A chunk that fails is retried row by row: a row that fails alone goes to the dead-letter table
with its error and the rest are written. A fault of the database itself (a dropped connection,
a lock) puts the rows back for the next attempt. Cancellation and shutdown put taken rows back
too, and `close()` writes them. `persisted()` waits until what was recorded so far is stored:
adapters acknowledge a delivery only after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import deque
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from sqlalchemy import TextClause, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import members
from bot.db import Database
from bot.models import ActivityDeadLetter
from bot.settings import Settings
from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

log = logging.getLogger(__name__)

POSTING_KINDS = ("message", "reply", "reaction")
# Rows per write transaction. A quiet flush (up to 1,000 rows) writes chunks of 250, so a
# command waiting for SQLite's one write lock waits a few milliseconds; a busy one writes
# the batch whole.
QUIET_ROWS, QUIET_CHUNK, BUSY_CHUNK = 1000, 250, 2000
YIELD_EVERY = 64
KNOWN_LIMIT = 500_000
CLOSE_ATTEMPTS = 5
CLOSE_WAIT_SECONDS = 30.0


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


def row_values(event: Event, kind: str, store_text: bool) -> tuple:
    """An event's activity row (`_COLUMNS` but the channel, which is resolved when written):
    the text only with `store_text`, and `asks` for a message in a channel, not in a thread,
    ending with a question mark (it may be offered to experts)."""
    text = getattr(event, "text", None)
    return (
        event.ts,
        kind,
        event.platform,
        event.event_id,
        getattr(event, "message_id", None) or None,
        getattr(event, "thread_id", None),
        len(text) if text else 0,
        text if (text and store_text) else None,
        kind == "message" and text.rstrip().endswith("?"),
    )


class Recent:
    """A bounded set that forgets its oldest members first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._order: deque = deque()
        self._items: set = set()

    def __contains__(self, item: Hashable) -> bool:
        return item in self._items

    def add(self, item: Hashable) -> None:
        if item in self._items:
            return
        self._order.append(item)
        self._items.add(item)
        if len(self._order) > self.size:
            self._items.discard(self._order.popleft())

    def discard(self, item: Hashable) -> None:
        self._items.discard(item)


def transient(error: BaseException) -> bool:
    """A fault of the database or the connection, not of the row: retry later, keep rows."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError | sa_exc.TimeoutError | OSError | TimeoutError)


Row = tuple[int, UserRef, ChannelRef, tuple]  # (sequence number, user, channel, values)


class ActivityLog:
    """Buffers activity rows and writes them in batches.

    `record()` does no I/O unless the buffer is full: members and channels seen for the first
    time are created at flush for the whole batch, and while one batch is written the next one
    fills. The buffer is bounded: past four batches, `record()` waits for the write.
    """

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._rows: list[Row] = []
        self._seen = Recent(200_000)
        self._known_users = Recent(KNOWN_LIMIT)
        self._channel_ids: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._writing: asyncio.Task | None = None
        self._recorded = 0
        self._stored = 0
        self._new_users: dict[tuple[str, str], UserRef] = {}
        self._new_channels: dict[tuple[str, str], ChannelRef] = {}
        self._latest: dict[tuple[str, str], int] = {}
        self._stored_changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._due = False
        self.written = 0
        self.dead_lettered = 0

    @property
    def recorded(self) -> int:
        """Events recorded by this process (each once)."""
        return self._recorded

    @property
    def waiting(self) -> int:
        """Rows recorded and not yet stored."""
        return self._recorded - self._stored

    def forget_member(self, user: UserRef | None = None) -> None:
        """Forget which platform users are known (after erasing members), so their next
        event creates them again."""
        if user is None:
            self._known_users = Recent(KNOWN_LIMIT)
        else:
            self._known_users.discard((user.platform, user.id))

    def unsee(self, event: Event) -> None:
        """Forget that this process recorded the event, so a redelivery is handled."""
        self._seen.discard((event.platform, event.event_id))

    def record(self, event: Event, kind: str | None = None) -> bool:
        """Buffer one event; False if this process has already recorded this event id."""
        key = (event.platform, event.event_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        kind = kind or kind_of(event)
        self._recorded += 1
        self._latest[(event.platform, event.user.id)] = self._recorded
        user_key, channel_key = (event.platform, event.user.id), (event.platform, event.channel.id)
        if user_key not in self._known_users:
            self._new_users[user_key] = event.user
        if channel_key not in self._channel_ids:
            self._new_channels[channel_key] = event.channel
        values = row_values(event, kind, self.settings.store_message_text)
        self._rows.append((self._recorded, event.user, event.channel, values))
        buffered = len(self._rows)
        if buffered % YIELD_EVERY == 0:
            self._due = True
            if buffered >= self.settings.activity_batch_size:
                self._kick()
        return True

    async def backpressure(self) -> None:
        """Give the writer a turn of the loop every `YIELD_EVERY` events, so that writing goes
        on beside an intake that never waits otherwise (the writer's thread has finished a
        chunk: it takes what is buffered and hands it over). While more than four batches wait
        (the database is behind), wait until what the writer holds is stored: it then takes
        the buffer, and intake goes on beside that write."""
        if self._due:
            self._due = False
            await asyncio.sleep(0)
        if len(self._rows) >= 4 * self.settings.activity_batch_size:
            await self.persisted(self._recorded - len(self._rows))

    def latest_of(self, user: UserRef) -> int:
        """The sequence number of the user's latest row not yet stored (0 if none)."""
        seq = self._latest.get((user.platform, user.id), 0)
        return seq if seq > self._stored else 0

    async def persisted(self, upto: int | None = None) -> None:
        """Return once every row recorded so far (or up to sequence number `upto`) is stored
        (or dead-lettered)."""
        target = self._recorded if upto is None else upto
        if self._stored >= target:
            return
        self._kick()
        async with self._stored_changed:
            await self._stored_changed.wait_for(lambda: self._stored >= target)

    def _kick(self) -> bool:
        """Start writing unless a write is under way; whether it started one."""
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write_pending())
            return True
        return False

    async def _write_pending(self) -> None:
        """Write until the buffer is empty; on a database fault, back off and try again.
        Once closing, stop after the write in progress (`close()` writes the rest)."""
        delay = 0.05
        while self._rows and not self._closing.is_set():
            try:
                await self.flush()
                delay = 0.05
            except Exception:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                delay = min(delay * 2, 5.0)

    def knows(self, user: UserRef) -> bool:
        """Whether this process has seen the member behind `user` stored."""
        return (user.platform, user.id) in self._known_users

    def mark_known(self, user: UserRef) -> None:
        """The member behind `user` exists now (the pipeline resolved the sender)."""
        key = (user.platform, user.id)
        self._known_users.add(key)
        self._new_users.pop(key, None)

    async def settle(self) -> None:
        """Create the members and channels seen for the first time that are still only in the
        buffer, so that handlers about to run find everyone the log has seen (the rows
        themselves are written later, as usual)."""
        if not self._new_users and not self._new_channels:
            return
        users, channels = list(self._new_users.values()), dict(self._new_channels)
        async with self.db.sessions() as session:
            ids = await self._create(session, users, channels)
            await session.commit()
        self._now_known(users, ids)

    async def flush(self) -> int:
        """Write what is buffered; returns the number of rows handed to the database."""
        async with self._lock:
            if not self._rows:
                return 0
            batch, self._rows = self._rows, []
            try:
                written = await self._write(batch)
            except BaseException as exc:
                self._rows[:0] = batch
                if isinstance(exc, Exception):
                    log.warning("could not write %d activity rows (%s: %s); will retry",
                                len(batch), type(exc).__name__,
                                str(exc).splitlines()[0][:200])  # fmt: skip
                raise
            self.written += written
            for seq, user, _, _ in batch:
                key = (user.platform, user.id)
                if self._latest.get(key) == seq:
                    del self._latest[key]
            await self._mark_stored(batch[-1][0])
            return written

    async def _mark_stored(self, sequence: int) -> None:
        async with self._stored_changed:
            self._stored = max(self._stored, sequence)
            self._stored_changed.notify_all()

    async def _write(self, batch: list[Row]) -> int:
        batch = await self._resolve(batch)
        sql, ts_param = insert_sql(self.db.engine.dialect.name)
        channels = self._channel_ids
        rows = [
            (ts_param(values[0]), channels[(channel.platform, channel.id)], *values[1:],
             user.platform, user.id)
            for _, user, channel, values in batch
        ]  # fmt: skip
        chunk = QUIET_CHUNK if len(rows) <= QUIET_ROWS else BUSY_CHUNK
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            try:
                await self._insert(sql, part)
            except Exception as exc:
                if transient(exc):
                    raise
                await self._one_by_one(sql, part)
        return len(rows)

    async def _insert(self, sql: str, rows: list[tuple]) -> None:
        """One statement, one transaction, one hand-off for the whole chunk: the rows go as
        one JSON array, so the database inserts them without a trip back to Python per row
        (on SQLite its thread holds no GIL meanwhile, so intake goes on beside it)."""
        await self.db.unit(_run_insert, sql, json.dumps(rows, ensure_ascii=False))

    async def _one_by_one(self, sql: str, rows: list[tuple]) -> None:
        for row in rows:
            try:
                await self._insert(sql, [row])
            except Exception as exc:
                if transient(exc):
                    raise
                await self._dead_letter(row[-2], row[4], row, exc)

    async def _resolve(self, batch: list[Row]) -> list[Row]:
        """Create the members and channels seen for the first time; rows whose member or
        channel cannot be stored are dead-lettered and left out."""
        unknown_users = {
            (user.platform, user.id): user
            for _, user, _, _ in batch
            if (user.platform, user.id) not in self._known_users
        }
        unknown_channels = {
            (channel.platform, channel.id): channel
            for _, _, channel, _ in batch
            if (channel.platform, channel.id) not in self._channel_ids
        }
        if not unknown_users and not unknown_channels:
            return batch
        if len(self._channel_ids) > KNOWN_LIMIT:
            self._channel_ids = {}
            unknown_channels = {(c.platform, c.id): c for _, _, c, _ in batch}
        try:
            users = list(unknown_users.values())
            async with self.db.sessions() as session:
                ids = await self._create(session, users, unknown_channels)
                await session.commit()
            self._now_known(users, ids)
            return batch
        except Exception as exc:
            if transient(exc):
                raise
        bad: set[tuple[str, str]] = set()
        for key, user in unknown_users.items():
            if not await self._create_alone([user], {}):
                bad.add(key)
        for key, channel in unknown_channels.items():
            if not await self._create_alone([], {key: channel}):
                bad.add(key)
        kept = []
        for row in batch:
            _, user, channel, values = row
            if (user.platform, user.id) in bad or (channel.platform, channel.id) in bad:
                await self._dead_letter(user.platform, values[3], row, "member or channel")
            else:
                kept.append(row)
        return kept

    async def _create(
        self,
        session: AsyncSession,
        users: list[UserRef],
        channels: dict[tuple[str, str], ChannelRef],
    ) -> dict[tuple[str, str], int]:
        """Create the members and channels (the caller commits, then `_now_known`); the
        channels' ids."""
        if users:
            await members.resolve_many(session, users, self.clock())
        return {key: (await members.resolve_channel(session, c)).id for key, c in channels.items()}

    def _now_known(self, users: list[UserRef], channel_ids: dict[tuple[str, str], int]) -> None:
        """What `_create` made is committed: only now may the log say it exists (a command
        looking a channel up must find it)."""
        for user in users:
            self._known_users.add((user.platform, user.id))
            self._new_users.pop((user.platform, user.id), None)
        self._channel_ids.update(channel_ids)
        for key in channel_ids:
            self._new_channels.pop(key, None)

    async def _create_alone(
        self, users: list[UserRef], channels: dict[tuple[str, str], ChannelRef]
    ) -> bool:
        try:
            async with self.db.sessions() as session:
                ids = await self._create(session, users, channels)
                await session.commit()
            self._now_known(users, ids)
            return True
        except Exception as exc:
            if transient(exc):
                raise
            return False

    async def _dead_letter(self, platform: str, event_id: str, row: object, error: object) -> None:
        """Keep a row that cannot be written, with why, and move on."""
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        log.warning("activity row %s %s could not be stored: %s", platform, event_id,
                    reason.splitlines()[0][:300])  # fmt: skip
        async with self.db.sessions() as session:
            session.add(
                ActivityDeadLetter(
                    failed_at=datetime.now(UTC),
                    platform=str(platform)[:16],
                    event_id=str(event_id)[:255],
                    row=json.dumps(row, default=repr)[:20_000],
                    error=reason[:2000],
                )
            )
            await session.commit()
        self.dead_lettered += 1

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.activity_flush_seconds)
            if self._rows and (self._writing is None or self._writing.done()):
                self._kick()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def close(self) -> None:
        """Stop the timer, let a write in progress finish, then write everything left."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._closing.set()
        if self._writing is not None and not self._writing.done():
            # Never cancelled mid-statement: a connection cut off inside its write can keep
            # SQLite's lock until it is garbage-collected, and every later write then fails.
            done, _ = await asyncio.wait([self._writing], timeout=CLOSE_WAIT_SECONDS)
            if not done:
                self._writing.cancel()
                await asyncio.gather(self._writing, return_exceptions=True)
        self._writing = None
        for attempt in range(CLOSE_ATTEMPTS):
            try:
                await self.flush()
                return
            except Exception:
                if attempt == CLOSE_ATTEMPTS - 1:
                    log.error("%d activity rows could not be stored at shutdown", len(self._rows))
                    raise
                await asyncio.sleep(0.2 * 2**attempt)


_COLUMNS = (
    "ts", "channel_id", "kind", "platform", "event_id", "message_id", "thread_id", "size", "text",
    "asks",
)  # fmt: skip
_PG_TYPES = ("timestamptz", "integer", "", "", "", "", "", "integer", "", "boolean")


HOLD_WRITES = text("LOCK TABLE activity IN SHARE ROW EXCLUSIVE MODE")


def hold_writes(session: Session | AsyncSession) -> TextClause | None:
    """The statement that makes activity writes wait for the caller's transaction, to run
    first in one that moves or erases a member's identities: on PostgreSQL it waits for
    the writes under way (so the transaction's own changes to activity rows see them) and
    holds new ones until it ends (so they find the identities as it left them). None on
    SQLite, where this process's writes go one at a time already."""
    return HOLD_WRITES if session.get_bind().dialect.name == "postgresql" else None


def _sqlite_ts(ts: datetime) -> str:
    """The text form SQLAlchemy stores SQLite datetimes in (naive UTC, microseconds)."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def _run_insert(session: Session, sql: str, rows: str) -> None:
    session.connection().exec_driver_sql(sql, (rows,))
    session.commit()


@functools.cache
def insert_sql(dialect: str) -> tuple[str, Callable[[datetime], str]]:
    """The batch insert over a JSON array of rows (each `_COLUMNS`, then the platform and
    user id): the member comes from the identity, in order, and event ids already stored
    are ignored.

    The member is looked up in the same statement, so a row written by a replica that has
    not heard of a merge still lands on the merged member; a merge or an erasure in progress
    holds these writes back (`hold_writes`). On PostgreSQL the rows go as `jsonb`, parsed
    once (plain `json` is parsed again for every field: 22 against 13 µs a row)."""
    columns = ", ".join(("member_id", *_COLUMNS))
    user = len(_COLUMNS)
    if dialect == "postgresql":
        values = ", ".join(
            f"(r.v->>{n})::{kind}" if kind else f"r.v->>{n}" for n, kind in enumerate(_PG_TYPES)
        )
        return (
            f"INSERT INTO activity ({columns}) SELECT i.member_id, {values} "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY r(v, n) "
            f"JOIN identities i ON i.platform = r.v->>{user} AND i.user_id = r.v->>{user + 1} "
            "ORDER BY r.n "
            "ON CONFLICT ON CONSTRAINT uq_activity_event DO NOTHING"
        ), _iso
    values = ", ".join(f"r.value->>{n}" for n in range(len(_COLUMNS)))
    return (
        f"INSERT INTO activity ({columns}) SELECT i.member_id, {values} "
        "FROM json_each(?) r CROSS JOIN identities i "
        f"WHERE i.platform = r.value->>{user} AND i.user_id = r.value->>{user + 1} "
        "ON CONFLICT DO NOTHING"
    ), _sqlite_ts
