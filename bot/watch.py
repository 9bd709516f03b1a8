"""What features wait for, known from memory, so that an ordinary event costs nothing.

A feature that acts on reactions to particular posts (an RSVP on an event's announcement, ✅
on a question, ✋ on an offer) or on what particular members do (a direct message from a
member in onboarding, the first join of a member not yet welcomed) declares a `Watch`: the
keys an event touches, and how to load the watched keys from the rows that already store
them. A listener registered with `watch=` runs only when the event touches a watched key
(with `unless=`, only when it does not), so a 👍 on a member's message, a reply or a join is
decided in memory, with no database statement.

`Watches` holds the keys. It loads them all at start; a feature that starts watching
something calls `add()` after its transaction commits, so the process that posted knows at
once. Other replicas (PostgreSQL) read what was added recently every `refresh_seconds`
(each watch loads the rows stamped since a little before its last read, which covers rows
that commit late); SQLite serves one process, which needs no refresh. Keys are never
forgotten across replicas at once: a stale key only makes a listener look in the database
and find nothing. `discard()` forgets one here; a full reload every `RELOAD_SECONDS` forgets
ended ones everywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.db import Database
from bot.types import Event

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
RELOAD_SECONDS = 3600.0

Loader = Callable[[Session, datetime | None], Iterable[tuple[str, str]]]
"""`load(session, since)`: (platform, key) pairs watched now, or stamped at or after `since`."""


def post_key(channel_id: str, message_id: str) -> str:
    """The key of a post: its channel and message id."""
    return f"{channel_id} {message_id}"


def reacted_posts(event: Event) -> tuple[str, ...]:
    """The posts a reaction touches: the message reacted to, and the root of its thread."""
    message_id, thread_id = getattr(event, "message_id", ""), getattr(event, "thread_id", None)
    keys = (post_key(event.channel.id, message_id),) if message_id else ()
    if thread_id and thread_id != message_id:
        keys += (post_key(event.channel.id, thread_id),)
    return keys


def sender(event: Event) -> tuple[str, ...]:
    """The member an event comes from (their platform user id)."""
    return (event.user.id,)


@dataclass(frozen=True, slots=True, eq=False)
class Watch:
    """Something a feature waits for: `keys(event)` are the keys an event touches, `load`
    reads the watched keys from the feature's own rows."""

    name: str
    load: Loader
    keys: Callable[[Event], Sequence[str]] = reacted_posts


class Watches:
    """The watched keys of every `Watch`, in memory."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        watches: Iterable[Watch] = (),
        refresh_seconds: float = 2.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._keys: dict[Watch, set[tuple[str, str]]] = {w: set() for w in watches}
        self._since: datetime | None = None
        self._added_while_loading: list[tuple[Watch, tuple[str, str]]] | None = None
        self._task: asyncio.Task | None = None

    @property
    def watches(self) -> tuple[Watch, ...]:
        return tuple(self._keys)

    def touches(self, watch: Watch, event: Event) -> bool:
        """Whether `event` touches a key of `watch` (no I/O)."""
        keys = self._keys.get(watch)
        if not keys:
            return False
        return any((event.platform, key) in keys for key in watch.keys(event))

    def add(self, watch: Watch, platform: str, key: str) -> None:
        """Watch `key` from now on in this process (call once the rows that hold it are
        committed: other replicas load it from them)."""
        self._keys.setdefault(watch, set()).add((platform, key))
        if self._added_while_loading is not None:
            self._added_while_loading.append((watch, (platform, key)))

    def discard(self, watch: Watch, platform: str, key: str) -> None:
        """Stop watching `key` in this process (the thing ended here; other replicas forget it
        at their next full reload)."""
        self._keys.get(watch, set()).discard((platform, key))

    def size(self) -> int:
        return sum(len(keys) for keys in self._keys.values())

    async def load(self) -> None:
        """Read every watched key afresh (at start, and now and then to forget ended ones)."""
        started = self.clock()
        self._added_while_loading = []
        try:
            fresh = await self.db.read(self._read, self.watches, None)
            keys = {watch: set(fresh[watch]) for watch in self.watches}
            for watch, key in self._added_while_loading:
                keys.setdefault(watch, set()).add(key)
        finally:
            self._added_while_loading = None
        self._keys = keys
        self._since = started - OVERLAP

    async def refresh(self) -> None:
        """Read the keys stamped since the last read (what other replicas added)."""
        if self._since is None:
            await self.load()
            return
        started = self.clock()
        found = await self.db.read(self._read, self.watches, self._since)
        for watch, keys in found.items():
            self._keys[watch].update(keys)
        self._since = started - OVERLAP

    @staticmethod
    def _read(
        session: Session, watches: tuple[Watch, ...], since: datetime | None
    ) -> dict[Watch, list[tuple[str, str]]]:
        return {watch: list(watch.load(session, since)) for watch in watches}

    def start(self, replicas: bool) -> None:
        """Keep the keys fresh in the background: recent rows every `refresh_seconds` when
        other replicas may add some (`replicas`), everything every `RELOAD_SECONDS`."""
        if self._task is None and self.watches:
            self._task = asyncio.get_running_loop().create_task(self._keep_fresh(replicas))

    async def _keep_fresh(self, replicas: bool) -> None:
        step = self.refresh_seconds if replicas and self.refresh_seconds > 0 else RELOAD_SECONDS
        waited = 0.0
        while True:
            await asyncio.sleep(step)
            waited += step
            try:
                if waited >= RELOAD_SECONDS:
                    waited = 0.0
                    await self.load()
                else:
                    await self.refresh()
            except Exception as exc:
                log.warning("could not refresh what features wait for (%s: %s); will retry",
                            type(exc).__name__, str(exc).splitlines()[0][:200])  # fmt: skip

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
