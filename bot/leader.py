"""Who may do what: one replica per role, and one process per SQLite file.

`Lease`: exactly one replica holds a role ("scheduler", "matrix-sync") at a time, chosen
through the database. On PostgreSQL the holder keeps a session-level advisory lock on a
connection of its own; the lock lives exactly as long as that session. Every `interval`
seconds a replica without the lock tries to take it, and the holder checks its connection
(`SELECT 1` within `timeout`): a lost connection means a lost lock, so it steps down at once
(`on_lost`) and tries again later. A holder that dies releases the lock with its connection:
at once when its process ends, within about 30 s (the session's TCP keepalives) when its
machine or network goes; a standby takes over on its next try, well within a minute. A
holder cut off from the database steps down after `interval + timeout` seconds, before the
server can let anyone else in.

On SQLite there is one process (`hold_single_process`), so the lease is held at once.

`hold_single_process`: `convener run` on a SQLite file takes an exclusive `flock` on
`<file>.lock` for its whole life, so a second process on the same file is refused with a
clear message; the kernel releases it when the process ends, however it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import psycopg
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # not POSIX: no lock file
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[object]]

# The lease connection's server-side keepalives: a dead holder's session (and lock) is ended
# about 15 + 3 x 5 = 30 s after its last packet, instead of the kernel's two hours.
KEEPALIVES = {"tcp_keepalives_idle": 15, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def lease_key(role: str) -> int:
    """A stable signed 64-bit advisory lock key for `role`."""
    digest = hashlib.blake2b(f"convener:{role}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Lease:
    """Role `role`, held by one replica at a time (see the module's docstring).

    `on_acquired` is awaited when this replica takes the role, `on_lost` when it gives it up:
    the connection was lost, `stop()` was called, or `on_acquired` raised (so it can undo
    half-done work). They alternate, and each `on_acquired` is followed by one `on_lost`.
    Errors in them are logged; an `on_acquired` that raises gives the lock back, and on
    PostgreSQL it is tried again after `interval` (on SQLite `start()` raises it)."""

    def __init__(
        self,
        url: str,
        role: str,
        *,
        on_acquired: Callback,
        on_lost: Callback,
        interval: float = 10.0,
        timeout: float = 5.0,
    ) -> None:
        self.role = role
        self.key = lease_key(role)
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.interval = interval
        self.timeout = timeout
        parsed = make_url(url)
        self.shared = parsed.get_backend_name() == "postgresql"
        self._connect_args = _connect_args(url, role, timeout) if self.shared else {}
        self._conn: psycopg.AsyncConnection | None = None
        self._held = False
        self._stopping = False
        self._in_callback = False
        self._failing = False
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._watched: int | None = None

    @property
    def held(self) -> bool:
        return self._held

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL process of this lease's connection, if connected."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    async def start(self) -> None:
        """Try to take the role now (on SQLite: take it), then keep trying in the background."""
        if self._task is not None or self._held:
            raise RuntimeError(f"the {self.role} lease is already started")
        self._stopping = False
        if not self.shared:
            self._held = True
            log.info("holding the %s role (one process on this database)", self.role)
            await self._acquired()
            return
        await self._tick()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"lease {self.role}")

    async def stop(self) -> None:
        """Give the role up (`on_lost`, if held), release the lock and close its connection.
        A callback under way is let finish first."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            if not self._in_callback:
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._held:
            await self._step_down("stopping", logging.INFO)
        await self._release()

    # The loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._tick()
            except Exception:  # never let the loop end on a surprise
                log.exception("the %s lease check failed", self.role)

    async def _tick(self) -> None:
        if self._stopping:
            return
        if self._held:
            self._unwatch()
            if await self._alive():
                self._watch()
            else:
                await self._step_down("its database connection was lost")
                await self._release()
            return
        if await self._try_lock():
            self._held = True
            log.info("holding the %s role", self.role)
            if await self._acquired():
                self._watch()
            else:
                await self._release()

    async def _acquired(self) -> bool:
        """Await `on_acquired`; if it raises, step down (re-raised on SQLite)."""
        self._in_callback = True
        try:
            await self.on_acquired()
            return True
        except Exception:
            if self.shared:  # on SQLite, start() raises it
                log.exception("taking up the %s role failed; trying again later", self.role)
            await self._step_down("taking it up failed")
            if not self.shared:
                raise
            return False
        finally:
            self._in_callback = False

    async def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        self._held = False
        log.log(level, "giving up the %s role: %s", self.role, why)
        self._in_callback = True
        try:
            await self.on_lost()
        except Exception:
            log.exception("giving up the %s role failed", self.role)
        finally:
            self._in_callback = False

    # The connection -----------------------------------------------------------------------

    def _watch(self) -> None:
        """Check at once, not at the next interval, when the idle holder's socket has
        something to read: the server says nothing unasked on an idle session, except that
        it is ending it (an operator's `pg_terminate_backend`, a restart, a fail-over)."""
        conn = self._conn
        if conn is None or conn.closed or self._watched is not None:
            return
        try:
            asyncio.get_running_loop().add_reader(conn.fileno(), self._readable)
        except (NotImplementedError, psycopg.Error, OSError):
            return  # no readiness callbacks here: the interval's check alone
        self._watched = conn.fileno()

    def _unwatch(self) -> None:
        """Before psycopg uses the socket (it waits on it with a reader of its own)."""
        fd, self._watched = self._watched, None
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)

    def _readable(self) -> None:
        self._unwatch()
        self._wake.set()

    async def _try_lock(self) -> bool:
        """One `pg_try_advisory_lock` on the lease's connection (opened when needed)."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await self._connect()
            cursor = await _within(
                self._conn.execute("SELECT pg_try_advisory_lock(%s::bigint)", (self.key,)),
                self.timeout,
            )
            row = await cursor.fetchone()
            self._failing = False
            return bool(row and row[0])
        except (psycopg.Error, OSError, TimeoutError) as exc:  # warned once, until it works
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(level, "cannot try for the %s role (again every %g s): %s",
                    self.role, self.interval, exc)  # fmt: skip
            self._failing = True
            await self._release()
            return False

    async def _connect(self) -> psycopg.AsyncConnection:
        conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_args)
        settings = ", ".join(f"set_config('{k}', '{int(v)}', false)" for k, v in KEEPALIVES.items())
        try:
            await _within(conn.execute(f"SELECT {settings}"), self.timeout)
        except psycopg.Error as exc:  # a pooler may refuse; the lease still works
            log.debug("could not set the lease connection's keepalives: %s", exc)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _alive(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            await _within(conn.execute("SELECT 1"), self.timeout)
            return True
        except (psycopg.Error, OSError, TimeoutError):
            return False

    async def _release(self) -> None:
        """Unlock (if the session is still there) and close the connection."""
        self._unwatch()
        conn, self._conn = self._conn, None
        if conn is None or conn.closed:
            return
        try:
            await _within(
                conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (self.key,)), self.timeout
            )
        except (psycopg.Error, OSError, TimeoutError):
            pass  # the session is gone, and its locks with it
        finally:
            await conn.close()


async def _within(work: Awaitable, seconds: float):
    """`work`, or `TimeoutError` after `seconds` without waiting for its clean-up
    (psycopg spends up to 10 s trying to cancel a query on a dead connection)."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait([task], timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
    raise TimeoutError(f"no answer within {seconds:g} s")


def _connect_args(url: str, role: str, timeout: float) -> dict:
    """psycopg's connection arguments for a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url)
    args: dict = parsed.translate_connect_args(username="user", database="dbname")
    for name, value in parsed.query.items():
        args[name] = value if isinstance(value, str) else value[-1]
    args.setdefault("application_name", f"convener lease {role}"[:63])
    args.setdefault("connect_timeout", max(2, round(timeout)))  # libpq's least is 2 s
    return args


# One process per SQLite file ----------------------------------------------------------------


class AlreadyRunning(RuntimeError):
    """Another process holds the SQLite file's lock."""

    def __init__(self, database: str, pid: int | None) -> None:
        self.database = database
        self.pid = pid
        who = f" (pid {pid})" if pid else ""
        super().__init__(
            f"another convener run is using {database}{who}; stop it first, "
            "or use PostgreSQL for several replicas"
        )


class SingleProcess:
    """An exclusive `flock` on `<database>.lock`, with this process's id in it (for the
    message of the one refused); a no-op for PostgreSQL and in-memory SQLite. A context
    manager; `acquire()` raises `AlreadyRunning`."""

    def __init__(self, database_url: str) -> None:
        parsed = make_url(database_url)
        database = parsed.database or ""
        self.database = database
        memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
        if parsed.get_backend_name() != "sqlite" or memory or fcntl is None:
            self.path: Path | None = None
        else:
            self.path = Path(f"{Path(database).resolve()}.lock")
        self._fd: int | None = None

    def acquire(self) -> SingleProcess:
        if self.path is None or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(self.database, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Unlock; the file stays (removing it would let two processes lock two files)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> SingleProcess:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def hold_single_process(database_url: str) -> SingleProcess:
    """Lock the SQLite file of `database_url` for this process (see `SingleProcess`)."""
    return SingleProcess(database_url).acquire()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
