"""Engines, sessions and migrations for SQLite (one machine) and PostgreSQL (replicas)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import (
    asynccontextmanager,
    contextmanager,
)
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636F6E76656E6572  # "convener": the PostgreSQL advisory lock of `upgrade`

T = TypeVar("T")

_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def _urls(url: str) -> tuple[URL, URL]:
    """The (sync, async) forms of a database URL as a user may write it."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite"), parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        driver = parsed.set(drivername="postgresql+psycopg")
        return driver, driver
    return parsed, parsed


def upsert(session: AsyncSession | Session, model):
    """`INSERT` for `model` in the session's dialect, with its `ON CONFLICT` clauses
    (`on_conflict_do_nothing`, `on_conflict_do_update`)."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def sync_url(url: str) -> URL:
    """The URL for a synchronous engine (migrations, reports built on a worker thread)."""
    return _urls(url)[0]


def describe(url: str) -> str:
    """The URL with any password hidden, for logs."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-32000")  # 32 MB: the activity indexes stay hot
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


_NESTED = (
    "a second write transaction in the same task would wait for the first on SQLite: "
    "commit the first before writing through another session or unit"
)


class SQLiteWriter:
    """This process's one writer on SQLite: every write transaction, on any connection,
    holds it from its first write statement to its commit or rollback.

    SQLite lets one connection write at a time, and Convener writes through several (the
    sessions' pool and the `unit` worker). Without this, a transaction waiting for another
    one's lock sleeps in SQLite's busy handler and fails with "database is locked" once the
    timeout passes; with it, writers queue here, in order, and reads go on beside them (WAL).

    Statements are seen through the engine's `before_cursor_execute` event, inside the
    async engine's greenlet, so the first write of a transaction can wait for the lock there.
    `hold()` takes it around a block (several transactions, or a `unit` on its thread); it is
    re-entrant for the task holding it. A task that already has a write transaction open and
    starts a second one on another connection would wait for itself: that raises at once."""

    SLOW_WAIT_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task | None = None
        self._depth = 0
        self._conn: object | None = None  # the DBAPI connection whose transaction holds it

    @property
    def held(self) -> bool:
        return self._lock.locked()

    async def _acquire(self) -> None:
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            return
        slow = asyncio.get_running_loop().call_later(self.SLOW_WAIT_SECONDS, self._warn_slow, task)
        try:
            await self._lock.acquire()
        finally:
            slow.cancel()
        self._owner = task

    def refuse_nested(self) -> None:
        """Raise if this task has a write transaction open on a connection: a write on
        another connection (a `unit`) would wait for it forever."""
        task = asyncio.current_task()
        if self._conn is not None and task is not None and self._owner is task:
            raise RuntimeError(_NESTED)

    def _warn_slow(self, task: asyncio.Task | None) -> None:
        log.warning("%s has waited %.0f s to write to SQLite; the writer is held by %s",
                    task.get_name() if task else "a write", self.SLOW_WAIT_SECONDS,
                    self._owner.get_name() if self._owner else "a worker")  # fmt: skip

    def _release_if_free(self) -> None:
        if self._depth == 0 and self._conn is None and self._owner is not None:
            self._owner = None
            self._lock.release()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self._acquire()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self._release_if_free()

    def attach(self, engine: Engine) -> None:
        """Make every write transaction on `engine` (an async engine's sync side) take the
        writer at its first write statement and give it back when it ends."""
        event.listen(engine, "before_cursor_execute", self._before_execute)
        dialect = engine.dialect  # this engine's own: the writer is free once SQLite is
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._then_free(getattr(dialect, name)))
        event.listen(engine.pool, "reset", self._reset)
        event.listen(engine.pool, "checkin", self._checked_in)
        event.listen(engine.pool, "invalidate", self._invalidated)

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not _WRITES.match(statement):
            return
        dbapi = conn.connection.dbapi_connection
        if self._conn is dbapi:
            return
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            if self._conn is not None:
                raise RuntimeError(_NESTED)
            self._conn = dbapi
            return
        await_only(self._acquire())
        self._conn = dbapi

    def _then_free(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(connection: Any) -> None:
            try:
                end(connection)
            finally:
                dbapi = getattr(connection, "dbapi_connection", connection)
                if dbapi is self._conn and dbapi is not None:
                    self._conn = None
                    self._release_if_free()

        return ended

    def _reset(self, dbapi, _record, state) -> None:
        """A connection back in the pool with its write still open (its session was cut
        short): roll it back, or it would hold SQLite's lock with nobody to end it."""
        if dbapi is self._conn and dbapi is not None and state.asyncio_safe:
            try:
                dbapi.rollback()
            except Exception:
                log.warning("could not roll back an abandoned write", exc_info=True)
            self._conn = None
            self._release_if_free()

    def _invalidated(self, dbapi, record, exc) -> None:
        """A connection thrown away inside its write (its task was cancelled mid-statement):
        roll the write back before the connection goes. Closed with its transaction open,
        the connection would linger, holding SQLite's lock, for as long as anything (the
        cancellation's traceback) still refers to its statement."""
        try:
            if dbapi is self._conn and dbapi is not None:
                dbapi.rollback()
        except Exception:
            log.warning("could not roll back a write cut short", exc_info=True)
        finally:
            self._checked_in(dbapi, record)

    def _checked_in(self, dbapi, _record, *_exc) -> None:
        if dbapi is self._conn and dbapi is not None:
            self._conn = None
            self._release_if_free()


class Database:
    """The async engine and session factory, plus the synchronous migration runner."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sync_url, self.async_url = _urls(url)
        self.is_sqlite = self.sync_url.get_backend_name() == "sqlite"
        kwargs: dict = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        else:
            # Sessions end every transaction themselves (commit, or rollback on close); the
            # pool's extra rollback on return is one more trip to SQLite's thread each time.
            # A write left open all the same is rolled back by `SQLiteWriter` on return.
            # Sessions waiting for the writer each hold a connection: room for every handler
            # the bounded processor runs at once, and the jobs, beside the writer's own.
            kwargs.update(pool_reset_on_return=None)
            if self.sync_url.database not in (None, "", ":memory:"):
                kwargs.update(pool_size=5, max_overflow=60)
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writer = SQLiteWriter() if self.is_sqlite else None
        if self.writer is not None:
            self.writer.attach(self.engine.sync_engine)
        self._unit_engine: Engine | None = None
        self._unit_sessions: sessionmaker[Session] | None = None
        self._unit_thread: ThreadPoolExecutor | None = None
        self._read_thread: ThreadPoolExecutor | None = None
        self._read_engine: Engine | None = None
        self._read_sessions: sessionmaker[Session] | None = None
        if self.is_sqlite and self.sync_url.database not in (None, "", ":memory:"):
            self._unit_engine = create_engine(
                self.sync_url,
                pool_size=1,
                max_overflow=0,
                connect_args={"check_same_thread": False},  # disposed from the loop's thread
            )
            _sqlite_pragmas(self._unit_engine)
            self._unit_sessions = sessionmaker(self._unit_engine, expire_on_commit=False)
            self._unit_thread = ThreadPoolExecutor(1, thread_name_prefix="convener-unit")
            self._read_engine = create_engine(
                self.sync_url,
                pool_size=1,
                max_overflow=0,
                connect_args={"check_same_thread": False},
            )
            _sqlite_pragmas(self._read_engine)
            self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
            self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="convener-read")

    @property
    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine this process talks to the database through (to observe statements)."""
        found = (self.engine.sync_engine, self._unit_engine, self._read_engine)
        return tuple(engine for engine in found if engine is not None)

    async def unit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)`, a short synchronous unit of work that commits itself,
        as one of this process's writes.

        On a SQLite file it runs whole on one worker thread: one hand-off instead of about
        five per statement through aiosqlite, which is most of a command's latency. Elsewhere
        it runs on the async session through `run_sync`. Cancelling the caller does not stop
        a unit that has begun; it finishes on its thread."""
        if self.writer is not None:
            self.writer.refuse_nested()
        if self._unit_sessions is None:
            async with self.sessions() as session:
                return await session.run_sync(fn, *args)
        assert self.writer is not None
        async with self.writer.hold():
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(self._unit_thread, self._run_unit, fn, args)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                await asyncio.wait([done])  # it finishes on its thread; then the writer is free
                raise

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)`, a synchronous read, the way `unit` runs a write but on a
        thread of its own and without waiting for this process's writes (SQLite's WAL lets
        reads go on beside a write)."""
        if self._unit_sessions is None:
            async with self.sessions() as session:
                return await session.run_sync(fn, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_thread, self._run_read, fn, args)

    def _run_unit(self, fn: Callable[..., T], args: tuple) -> T:
        assert self._unit_sessions is not None
        with self._unit_sessions() as session:
            return fn(session, *args)

    def _run_read(self, fn: Callable[..., T], args: tuple) -> T:
        assert self._read_sessions is not None
        with self._read_sessions() as session:
            return fn(session, *args)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    def __call__(self) -> AsyncSession:
        return self.sessions()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (synchronous; call before serving)."""
        upgrade(self.url)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._unit_engine is not None and self._unit_thread is not None:
            self._unit_thread.shutdown(wait=True)
            if self._read_thread is not None:
                self._read_thread.shutdown(wait=True)
            self._unit_engine.dispose()
            if self._read_engine is not None:
                self._read_engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["sync_url"] = _urls(url)[0]
    return cfg


_one_upgrade_at_a_time = threading.Lock()
"""Alembic keeps the migration under way in a module-level proxy (`alembic.context`): two
upgrades on threads of one process must not overlap, whatever their databases."""


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`, in one transaction.

    Replicas starting together all come up: on PostgreSQL the upgrade holds a session-level
    advisory lock (`pg_advisory_lock(MIGRATION_LOCK_KEY)`, scoped to this database) on the
    connection Alembic uses, from before it reads the schema's revision until after it has
    committed, so a second replica waits, then finds the schema up to date and does nothing.
    The lock goes with the connection if the process dies. Within one process upgrades run
    one at a time whatever the database. SQLite takes no lock: it serves one process
    (several replicas need PostgreSQL), so nothing more is needed there. (Two processes
    creating one new SQLite file at the same moment are not serialised: pysqlite runs DDL
    outside a transaction.)"""
    from alembic import command

    sync_url = _urls(url)[0]
    if sync_url.get_backend_name() == "sqlite" and sync_url.database not in (None, "", ":memory:"):
        Path(sync_url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sync_url)
    if sync_url.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine)
    try:
        with _one_upgrade_at_a_time, engine.connect() as conn, _migration_lock(conn):
            with conn.begin():
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock `MIGRATION_LOCK_KEY` on `conn` (a session-level lock,
    outside any transaction, so it outlasts the migration's commit); nothing elsewhere."""
    if conn.dialect.name != "postgresql":
        yield
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if not conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        where = conn.engine.url.render_as_string(hide_password=True)
        log.info("waiting for another process to finish migrating %s", where)
        conn.scalar(text("SELECT pg_advisory_lock(:key)"), key)
    conn.commit()  # end the transaction the query began; the lock stays with the session
    try:
        yield
    finally:
        try:
            if conn.in_transaction():
                conn.rollback()
            conn.scalar(text("SELECT pg_advisory_unlock(:key)"), key)
            conn.commit()
        except Exception:  # the connection is gone, and the lock with it
            log.warning("could not release the migration lock", exc_info=True)
