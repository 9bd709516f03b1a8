"""Writing the community's past (`convener import`): what an adapter read from an export or
a room's history, as members, channels, activity rows and library candidates.

An adapter hands over `Unit`s, one file or page each, in the order things happened. Each unit
is one transaction, recorded in `imported_units` with the rest: an import cut short resumes
after the last unit written, and a unit seen again unchanged is skipped. Rows are keyed by
event id exactly as the live adapter keys them and inserted with the activity log's own
statement (`ON CONFLICT DO NOTHING`), so a second import, an overlapping later export or an
event already seen live adds nothing. Joins are the exception the platforms force: a live
join and the export's join notice carry different ids, so an imported join within two minutes
of a stored one for the same member and channel is the same join.

Left out, and counted in the summary: bots, what happened outside `--since`/`--until` or
before the retention period (the nightly retention would delete it), and the accounts of
members who asked to be forgotten (`remember_erased`), so an old export does not bring them
back.

Memory holds the members and channels seen, the recent question-like threads
(`bot.answered`) and the next units, read ahead on a thread of their own (`read_ahead`),
never the history itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from bot import answered, members, timezones
from bot.activity import insert_sql, kind_of, row_values
from bot.db import Database, upsert
from bot.errors import UsageError
from bot.models import (
    Activity,
    Channel,
    ImportedUnit,
    KeyValue,
    KnowledgeEntry,
    LibraryCandidate,
    Member,
)
from bot.settings import Settings
from bot.textkey import NAME_KEY_LENGTH, fold
from bot.types import ChannelRef, Event, UserRef

SAME_JOIN = timedelta(minutes=2)
CHUNK = 2000
CHECKPOINT = 20_000  # pages (80 MB): SQLite's 1,000 made a checkpoint of every few files
ERASED = "erased accounts"
"""The `kv` scope holding a fingerprint of each platform account whose member asked to be
forgotten, so that importing an old export does not bring their past back."""


def account_key(platform: str, user_id: str) -> str:
    """An account's fingerprint among the erased (SHA-256 of platform and user id)."""
    return hashlib.sha256(f"{platform}\0{user_id}".encode()).hexdigest()


def remember_erased(session: Session, accounts: Iterable[UserRef], now: datetime) -> None:
    """Note accounts whose member was erased (part of the erasure's transaction)."""
    rows = [
        {"scope": ERASED, "key": account_key(u.platform, u.id), "value": "", "updated_at": now}
        for u in accounts
    ]
    if rows:
        statement = upsert(session, KeyValue)
        session.execute(statement.on_conflict_do_nothing(), rows)


def _erased(session: Session) -> set[str]:
    return set(session.scalars(select(KeyValue.key).where(KeyValue.scope == ERASED)))


@dataclass(frozen=True, slots=True)
class Profile:
    """What an export says about a person; `user.name` is the name to show."""

    user: UserRef
    real_name: str | None = None
    role_title: str | None = None
    timezone: str | None = None
    deleted: bool = False


@dataclass(slots=True)
class Unit:
    """One file or page of history, written whole or not at all. `digest` fingerprints its
    content; `size` is what it weighed (bytes read), for progress."""

    platform: str
    path: str
    digest: str
    events: list[Event] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    channels: list[ChannelRef] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    size: int = 0

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.platform}\0{self.path}\0{self.digest}".encode()).hexdigest()


class BadInput(Exception):
    """Input that cannot be imported: the message names the file and what is wrong."""


@dataclass(slots=True)
class Summary:
    """What an import did (or, dry, would do)."""

    dry_run: bool = False
    members_new: int = 0
    members_matched: int = 0
    channels: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    already: int = 0
    first: datetime | None = None
    last: datetime | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    units: int = 0
    units_before: int = 0
    candidates: int = 0
    messages: int = 0
    deleted: int = 0

    def lines(self) -> list[str]:
        would = "would add" if self.dry_run else "added"
        period = (
            f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}" if self.first and self.last else "-"
        )
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.rows.items())) or "nothing"
        found = [
            f"{'dry run: nothing written. ' if self.dry_run else ''}"
            f"members: {self.members_new:,} new, {self.members_matched:,} matched; "
            f"channels: {self.channels:,}"
            + (f"; deleted accounts: {self.deleted:,} (their past kept)" if self.deleted else ""),
            f"activity: {would} {kinds} ({sum(self.rows.values()):,} rows; "
            f"{self.already:,} already there)",
            f"period covered: {period}",
            f"files or pages: {self.units:,} read ({self.messages:,} messages), "
            f"{self.units_before:,} imported before",
            f"library candidates: {self.candidates:,} (facilitators: `library candidates`)",
        ]
        if self.skipped:
            found.append("skipped: " + "; ".join(
                f"{n:,} {why}" for why, n in self.skipped.most_common()))  # fmt: skip
        return found


async def read_ahead(units: Iterable[Unit], depth: int = 2) -> AsyncIterator[Unit]:
    """The units, read on a thread of their own up to `depth` ahead, so that reading the
    next file goes on while the last one is written. What reading raises is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Unit | BaseException | None] = asyncio.Queue(depth)
    stop = threading.Event()

    def hand(item: Unit | BaseException | None) -> None:
        if not stop.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def read() -> None:
        try:
            for unit in units:
                if stop.is_set():
                    return
                hand(unit)
            hand(None)
        except BaseException as exc:  # handed over: the importer's caller sees it
            hand(exc)

    reader = threading.Thread(target=read, name="history-reader", daemon=True)
    reader.start()
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not queue.empty():  # a reader waiting to hand a unit over may finish
            queue.get_nowait()


def period(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """`--since` / `--until` (inclusive days, UTC) as instants: [start, end)."""
    start = datetime.combine(since, datetime.min.time(), UTC) if since else None
    end = datetime.combine(until, datetime.min.time(), UTC) + timedelta(days=1) if until else None
    return start, end


class Importer:
    """Writes units; `summary` says what it did. With `dry_run` it reads the database only."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        now: Callable[[], datetime],
        *,
        dry_run: bool = False,
        since: date | None = None,
        until: date | None = None,
        progress: Callable[[Unit, int], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.now = now
        self.summary = Summary(dry_run=dry_run)
        self.start, self.end = period(since, until)
        days = settings.retention_days
        self.kept_from = now() - timedelta(days=days) if days else None
        self.progress = progress
        self.finder = answered.Finder()
        self._members: dict[tuple[str, str], int] = {}
        self._counted: set[tuple[str, str]] = set()
        self._channels: dict[tuple[str, str], int] = {}
        self._named: dict[tuple[str, str], ChannelRef] = {}
        self._offered: set[tuple[str, str, str]] = set()
        self._forgotten: set[str] | None = None
        self._joins_live_from: datetime | None = None
        self.started = now()

    async def run(self, units: Iterable[Unit] | AsyncIterable[Unit]) -> Summary:
        ahead = units if isinstance(units, AsyncIterable) else read_ahead(units)
        closing = contextlib.aclosing if hasattr(ahead, "aclose") else contextlib.nullcontext
        async with closing(ahead):  # a reader cut short closes its files or connection now
            async for unit in ahead:
                await self.write(unit)
        return self.summary

    async def write(self, unit: Unit) -> None:
        if not unit.events and not unit.profiles and not unit.channels:
            self.summary.skipped.update(unit.skipped)
            if self.progress is not None:
                self.progress(unit, 0)
            return
        events = [e for e in unit.events if self._in_period(e)]
        outside = len(unit.events) - len(events)
        old = 0
        if self.kept_from is not None:
            young = [e for e in events if e.ts >= self.kept_from]
            old, events = len(events) - len(young), young
        if self._forgotten is None:
            self._forgotten = await self.db.read(_erased)
        kept = [e for e in events if not e.user.is_bot]
        forgotten = len(kept)
        if self._forgotten:
            kept = [e for e in kept if account_key(e.platform, e.user.id) not in self._forgotten]
            unit.profiles = [
                p for p in unit.profiles
                if account_key(p.user.platform, p.user.id) not in self._forgotten
            ]  # fmt: skip
        forgotten -= len(kept)
        for event in kept:
            self.finder.see(event)
        threads = self.finder.changed()
        for channel in unit.channels:
            self._named[(channel.platform, channel.id)] = channel
        if self.summary.dry_run:
            done = await self.db.read(self._dry, unit, kept, threads)
        else:
            whole = not outside and not old
            done = await self.db.unit(self._write, unit, kept, threads, whole)
        summary = self.summary
        summary.units += 1
        messages = sum(1 for e in events if kind_of(e) in ("message", "reply", "direct"))
        summary.messages += messages
        if done:
            summary.units_before += 1
        else:
            summary.skipped.update(unit.skipped)
            if outside:
                summary.skipped["outside the period"] += outside
            if old:
                summary.skipped[
                    f"older than CONVENER_RETENTION_DAYS ({self.settings.retention_days} days; "
                    "retention would delete them)"
                ] += old
            if unit.events and (bots := len(events) - len(kept) - forgotten):
                summary.skipped["posts by bots"] += bots
            if forgotten:
                summary.skipped["by members who asked to be forgotten"] += forgotten
            for event in kept:
                if summary.first is None or event.ts < summary.first:
                    summary.first = event.ts
                if summary.last is None or event.ts > summary.last:
                    summary.last = event.ts
        if self.progress is not None:
            self.progress(unit, messages)

    def _in_period(self, event: Event) -> bool:
        return (self.start is None or event.ts >= self.start) and (
            self.end is None or event.ts < self.end
        )

    # writing ---------------------------------------------------------------------------------

    def _write(
        self,
        session: Session,
        unit: Unit,
        events: list[Event],
        threads: list[answered.Thread],
        whole: bool = True,
    ) -> bool:
        """Write one unit in one transaction; True if it was written before (nothing done).
        A unit cut by the period or the retention is not recorded as imported: another run
        without the limit reads it again."""
        if session.get(ImportedUnit, unit.key) is not None:
            session.rollback()
            return True
        if session.get_bind().dialect.name == "sqlite":  # checkpoint the log less often
            session.connection().exec_driver_sql(f"PRAGMA wal_autocheckpoint={CHECKPOINT}")
        new_members = self._resolve_members(session, unit, events, threads)
        self._resolve_channels(session, unit, events)
        rows = self._rows(events)
        rows = self._without_seen_joins(session, rows)
        added: Counter[str] = Counter()
        sql, ts_param = insert_sql(session.get_bind().dialect.name)
        by_kind: dict[str, list[tuple]] = {}
        for row in rows:
            by_kind.setdefault(row[2], []).append(row)
        for kind, part in by_kind.items():
            for at in range(0, len(part), CHUNK):
                chunk = [(ts_param(r[0]), *r[1:]) for r in part[at : at + CHUNK]]
                result = session.connection().exec_driver_sql(
                    sql, (json.dumps(chunk, ensure_ascii=False),)
                )
                added[kind] += max(result.rowcount, 0)
        self._stamp_joins(session, rows)
        candidates = self._candidates(session, threads)
        if whole:
            session.add(
                ImportedUnit(
                    key=unit.key, platform=unit.platform, path=unit.path[:512],
                    rows=sum(added.values()), imported_at=self.now(),
                )
            )  # fmt: skip
        session.commit()
        self._count_members(*new_members)
        self.summary.deleted += sum(1 for p in unit.profiles if p.deleted)
        self.summary.rows.update(added)
        self.summary.already += len(events) - sum(added.values())
        self.summary.candidates += candidates
        return False

    def _count_members(self, seen: Iterable[tuple[str, str]], new: set[tuple[str, str]]) -> None:
        for key in seen:
            if key not in self._counted:
                self._counted.add(key)
                if key in new:
                    self.summary.members_new += 1
                else:
                    self.summary.members_matched += 1

    def _people(
        self, unit: Unit, events: list[Event], threads: list[answered.Thread]
    ) -> dict[tuple[str, str], UserRef]:
        wanted: dict[tuple[str, str], UserRef] = {}
        for profile in unit.profiles:
            if not profile.user.is_bot:
                wanted[(profile.user.platform, profile.user.id)] = profile.user
        for event in events:
            wanted.setdefault((event.user.platform, event.user.id), event.user)
        for thread in threads:
            for user in (thread.asker, *(u for u, _ in thread.answers)):
                wanted.setdefault((user.platform, user.id), user)
        return wanted

    def _resolve_members(
        self, session: Session, unit: Unit, events: list[Event], threads: list[answered.Thread]
    ) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
        """Member ids for everyone in the unit, creating the unknown; profiles applied (a
        new member takes the export's fields, a known one only fills what is empty). The
        keys of the unit's people and of the members created."""
        wanted = self._people(unit, events, threads)
        profiles = {(p.user.platform, p.user.id): p for p in unit.profiles}
        unknown = {k: u for k, u in wanted.items() if k not in self._members or k in profiles}
        found = members.member_ids(session, unknown)
        made: dict[tuple[str, str], Member] = {}
        for key, user in unknown.items():
            if key not in found:
                member, is_new = members.create(session, user, self.now())
                found[key] = member.id
                if is_new:
                    made[key] = member
        for key, profile in profiles.items():
            if key in found and not profile.user.is_bot:
                member = made.get(key) or session.get(Member, found[key])
                if member is not None:
                    _apply(member, profile, fresh=key in made)
        self._members.update(found)
        return list(wanted), set(made)

    def _resolve_channels(self, session: Session, unit: Unit, events: list[Event]) -> None:
        wanted = {(c.platform, c.id): c for c in unit.channels}
        for event in events:
            key = (event.channel.platform, event.channel.id)
            if key not in self._channels:
                wanted.setdefault(key, self._named.get(key, event.channel))
        for key, ref in wanted.items():
            row = session.scalar(
                select(Channel).where(Channel.platform == key[0], Channel.channel_id == key[1])
            )
            if row is None:
                row = Channel(platform=ref.platform, channel_id=ref.id,
                              name=(ref.name or ref.id)[:200], is_direct=ref.is_direct)  # fmt: skip
                session.add(row)
                session.flush()
                self.summary.channels += 1
            elif ref.name and row.name in (None, "", row.channel_id):
                row.name = ref.name[:200]
            self._channels[key] = row.id

    def _rows(self, events: list[Event]) -> list[tuple]:
        """Rows as the activity insert takes them: `_COLUMNS`, then platform and user id."""
        store = self.settings.store_message_text
        rows = []
        for event in events:
            values = row_values(event, kind_of(event), store)
            channel = self._channels[(event.channel.platform, event.channel.id)]
            rows.append((values[0], channel, *values[1:], event.user.platform, event.user.id))
        return rows

    def _without_seen_joins(self, session: Session, rows: list[tuple]) -> list[tuple]:
        """Leave out joins and leaves already stored under another id (seen live)."""
        moves = [r for r in rows if r[2] in ("join", "leave")]
        if not moves or max(r[0] for r in moves) < self._live_from(session) - SAME_JOIN:
            return rows
        stored = session.execute(
            select(Activity.member_id, Activity.channel_id, Activity.kind, Activity.ts).where(
                Activity.member_id.in_({self._members[(r[-2], r[-1])] for r in moves}),
                Activity.kind.in_(("join", "leave")),
                Activity.channel_id.in_({r[1] for r in moves}),
                Activity.ts >= min(r[0] for r in moves) - SAME_JOIN,
                Activity.ts <= max(r[0] for r in moves) + SAME_JOIN,
                Activity.event_id.not_in([r[4] for r in moves]),
            )
        ).all()
        if not stored:
            return rows
        seen: dict[tuple[int, int, str], list[datetime]] = {}
        for member_id, channel_id, kind, ts in stored:
            seen.setdefault((member_id, channel_id, kind), []).append(ts)

        def already(row: tuple) -> bool:
            if row[2] not in ("join", "leave"):
                return False
            times = seen.get((self._members[(row[-2], row[-1])], row[1], row[2]), ())
            return any(abs(ts - row[0]) <= SAME_JOIN for ts in times)

        return [r for r in rows if not already(r)]

    def _live_from(self, session: Session) -> datetime:
        """The earliest join or leave stored under a live delivery's id (the imports' own
        start `join:`/`leave:`), or this import's start: before it, no join needs looking
        for."""
        if self._joins_live_from is None:
            first = session.scalar(
                select(func.min(Activity.ts)).where(
                    Activity.kind.in_(("join", "leave")),
                    Activity.event_id.not_like("join:%"),
                    Activity.event_id.not_like("leave:%"),
                )
            )
            self._joins_live_from = min(first, self.started) if first else self.started
        return self._joins_live_from

    def _stamp_joins(self, session: Session, rows: list[tuple]) -> None:
        """A member's first join seen in the past is when they joined; they are not welcomed
        as newcomers later (they were here before Convener)."""
        first: dict[int, datetime] = {}
        for row in rows:
            if row[2] == "join":
                member_id = self._members[(row[-2], row[-1])]
                if member_id not in first or row[0] < first[member_id]:
                    first[member_id] = row[0]
        if not first:
            return
        stamps = [{"member": member_id, "ts": ts} for member_id, ts in first.items()]
        table = Member.__table__
        member, ts = bindparam("member"), bindparam("ts", type_=table.c.joined_at.type)
        session.execute(
            update(table)
            .where(table.c.id == member)
            .where(or_(table.c.joined_at.is_(None), table.c.joined_at > ts))
            .values(joined_at=ts),
            stamps,
        )
        session.execute(
            update(table)
            .where(table.c.id == member, table.c.welcomed_at.is_(None))
            .values(welcomed_at=ts),
            stamps,
        )

    def _candidates(self, session: Session, threads: list[answered.Thread]) -> int:
        """Offer answered threads to the library (new ones; an open one gains its new
        answers; one kept, dropped or already in the library is left alone)."""
        wanted = {}
        for thread in threads:
            channel_id = self._channels.get(thread.channel_key)
            if channel_id is not None:
                wanted[(channel_id, thread.message_id)] = thread
        if not wanted:
            return 0
        channels = {c for c, _ in wanted}
        ids = [m for _, m in wanted]
        kept = {
            (channel_id, message_id)
            for channel_id, message_id in session.execute(
                select(KnowledgeEntry.channel_id, KnowledgeEntry.message_id).where(
                    KnowledgeEntry.channel_id.in_(channels), KnowledgeEntry.message_id.in_(ids)
                )
            )
        }
        held = {
            (row.channel_id, row.message_id): row
            for row in session.execute(
                select(LibraryCandidate.id, LibraryCandidate.channel_id,
                       LibraryCandidate.message_id, LibraryCandidate.status,
                       LibraryCandidate.question)
                .where(LibraryCandidate.channel_id.in_(channels),
                       LibraryCandidate.message_id.in_(ids))
            )
        }  # fmt: skip
        now, new = self.now(), []
        for key, thread in wanted.items():
            if key in kept:
                continue
            answers = [
                {"member_id": self._members[(u.platform, u.id)], "text": text}
                for u, text in thread.answers
            ]
            signal = thread.signal or "thanks"
            if key in held:
                row = held[key]
                if row.status == "open" and row.question is not None:
                    session.execute(
                        update(LibraryCandidate)
                        .where(LibraryCandidate.id == row.id)
                        .values(answers=answers, signal=signal)
                    )
                continue
            new.append({
                "channel_id": key[0], "message_id": key[1],
                "asked_by": self._members[(thread.asker.platform, thread.asker.id)],
                "asked_at": thread.asked_at, "question": thread.question[:4000],
                "answers": answers, "signal": signal, "found_at": now, "status": "open",
            })  # fmt: skip
        if new:
            session.execute(insert(LibraryCandidate), new)
        return len(new)

    # a dry run -------------------------------------------------------------------------------

    def _dry(
        self, session: Session, unit: Unit, events: list[Event], threads: list[answered.Thread]
    ) -> bool:
        if session.get(ImportedUnit, unit.key) is not None:
            return True
        wanted = self._people(unit, events, [])
        unknown = {k: u for k, u in wanted.items() if k not in self._members}
        found = members.member_ids(session, unknown)
        for key in unknown:
            self._members[key] = found.get(key, 0)
        self._count_members(unknown, {k for k in unknown if k not in found})
        for event in events:
            key = (event.channel.platform, event.channel.id)
            if key not in self._channels:
                exists = session.scalar(
                    select(Channel.id).where(
                        Channel.platform == key[0], Channel.channel_id == key[1]
                    )
                )
                self._channels[key] = exists or 0
                self.summary.channels += exists is None
        ids = [e.event_id for e in events]
        stored: set[str] = set()
        platform = unit.platform
        for at in range(0, len(ids), 500):
            stored.update(
                session.scalars(
                    select(Activity.event_id).where(
                        Activity.platform == platform, Activity.event_id.in_(ids[at : at + 500])
                    )
                )
            )
        for event in events:
            if event.event_id in stored:
                self.summary.already += 1
            else:
                self.summary.rows[kind_of(event)] += 1
        for thread in threads:
            key = (*thread.channel_key, thread.message_id)
            if key in self._offered:
                continue
            self._offered.add(key)
            channel_id = self._channels.get(thread.channel_key)
            offered = channel_id and session.scalar(
                select(LibraryCandidate.id).where(
                    LibraryCandidate.channel_id == channel_id,
                    LibraryCandidate.message_id == thread.message_id,
                )
            )
            self.summary.candidates += not offered
        return False


def _apply(member: Member, profile: Profile, *, fresh: bool) -> None:
    """The export's profile fields: all of them for a member it created, and for a member
    Convener knew only those still empty (what a member set stands)."""
    if member.erased_at is not None:
        return
    zone = None
    if profile.timezone:
        try:
            zone = timezones.name(profile.timezone)
        except UsageError:
            zone = None
    name = profile.user.name or profile.real_name
    if name and (fresh or member.display_name in ("", profile.user.id)):
        member.display_name = name[:200]
        member.name_key = fold(name[:200], NAME_KEY_LENGTH)
    if profile.role_title and (fresh or not member.role_title):
        member.role_title = profile.role_title[:120]
    if zone and (fresh or not member.timezone):
        member.timezone = zone


class Meter:
    """A progress line for a terminal: messages so far, messages per second, the share read
    and the time left (by bytes, which an export knows up front)."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        doing: str = "imported",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.stream, self.clock, self.doing = total, stream, clock, doing
        self.started = self._shown = clock()
        self.read = self.messages = 0

    def __call__(self, unit: Unit, messages: int) -> None:
        self.advance(unit.size, messages)

    def advance(self, size: int, messages: int) -> None:
        self.read += size
        self.messages += messages
        now = self.clock()
        if now - self._shown >= 0.25:
            self._shown = now
            self.stream.write("\r" + self.line(now))
            self.stream.flush()

    def line(self, now: float) -> str:
        spent = max(now - self.started, 1e-9)
        share = min(self.read / self.total, 1.0) if self.total else 0.0
        left = spent * (1 - share) / share if share else 0.0
        width = 24
        bar = "#" * int(share * width)
        minutes, seconds = divmod(int(left), 60)
        return (
            f"[{bar:<{width}}] {share:4.0%} {self.messages:,} messages {self.doing}, "
            f"{self.messages / spent:,.0f}/s, {minutes}:{seconds:02d} left  "
        )

    def close(self) -> None:
        """The last line, at 100%: every file is read (some, such as `channels.json`, without
        a unit of their own)."""
        if self.read:
            self.read = self.total
            self.stream.write("\r" + self.line(self.clock()).replace("left", "   ") + "\n")
            self.stream.flush()
