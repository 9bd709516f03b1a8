"""Engines, sessions and migrations for SQLite (one machine) and PostgreSQL (replicas)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
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

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636F6E76656E6572  # "convener": the PostgreSQL advisory lock of `upgrade`

T = TypeVar("T")


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
            kwargs.update(pool_reset_on_return=None)
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._unit_engine: Engine | None = None
        self._unit_sessions: sessionmaker[Session] | None = None
        self._unit_thread: ThreadPoolExecutor | None = None
        self._read_thread: ThreadPoolExecutor | None = None
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
            self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="convener-read")

    def write_lock(self) -> AbstractAsyncContextManager:
        """Held around this process's busy write transactions on SQLite, which has one writer
        at a time: waiting here costs nothing, while SQLite's own busy handler sleeps in steps
        of up to 100 ms. On PostgreSQL it does nothing."""
        return self._write_lock if self._write_lock is not None else nullcontext()

    async def unit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)`, a short synchronous unit of work that commits itself,
        as one of this process's writes.

        On a SQLite file it runs whole on one worker thread: one hand-off instead of about
        five per statement through aiosqlite, which is most of a command's latency. Elsewhere
        it runs on the async session through `run_sync`. Cancelling the caller does not stop
        a unit that has begun; it finishes on its thread."""
        if self._unit_sessions is None:
            async with self.write_lock(), self.sessions() as session:
                return await session.run_sync(fn, *args)
        async with self.write_lock():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._unit_thread, self._run_unit, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(session, *args)`, a synchronous read, the way `unit` runs a write but on a
        thread of its own and without waiting for this process's writes (SQLite's WAL lets
        reads go on beside a write)."""
        if self._unit_sessions is None:
            async with self.sessions() as session:
                return await session.run_sync(fn, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_thread, self._run_unit, fn, args)

    def _run_unit(self, fn: Callable[..., T], args: tuple) -> T:
        assert self._unit_sessions is not None
        with self._unit_sessions() as session:
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
