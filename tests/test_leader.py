"""One replica per role (`Lease`: a PostgreSQL advisory lock, or at once on SQLite) and one
process per SQLite file (`hold_single_process`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.leader import (
    AlreadyRunning,
    Lease,
    SingleProcess,
    _connect_args,
    hold_single_process,
    lease_key,
)
from tests.databases import PG_URL, throwaway_postgres

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 0.2
SETTLE = 15.0
needs_postgres = pytest.mark.skipif(not PG_URL, reason="CONVENER_TEST_DATABASE_URL is not set")


class Replica:
    """A lease and what its callbacks saw, with a way to wait for them."""

    def __init__(self, url: str, role: str, *, fail_first: bool = False) -> None:
        self.calls: list[str] = []
        self.changed = asyncio.Condition()
        self.fail_first = fail_first
        self.lease = Lease(url, role, on_acquired=self.acquired, on_lost=self.lost,
                           interval=INTERVAL, timeout=1.0)  # fmt: skip

    async def acquired(self) -> None:
        await self._saw("acquired")
        if self.fail_first and self.calls.count("acquired") == 1:
            raise RuntimeError("the scheduler could not start")

    async def lost(self) -> None:
        await self._saw("lost")

    async def _saw(self, call: str) -> None:
        async with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    async def until(self, *calls: str, within: float = SETTLE) -> None:
        """Wait until the callbacks so far are `calls` (a few intervals when the machine is
        idle; the deadline only keeps a broken lease from hanging the test)."""
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(lambda: self.calls == list(calls))


def lease_locks(url: str, pid: int | None) -> int:
    with psycopg.connect(**_args(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (pid,)
        ).fetchone()
    return row[0]


def terminate(url: str, pid: int | None) -> None:
    """End a backend from outside, as an operator, a restart or a fail-over would."""
    with psycopg.connect(autocommit=True, **_args(url)) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


class Proxy:
    """A TCP relay to the test server that can stop relaying (the network is cut) and then
    drop its connections (the server's keepalives give up on the silent client)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks: set[asyncio.Task] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        target = make_url(self.url)
        self.target = (target.host or "127.0.0.1", target.port or 5432)
        return target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.drop()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            await self.flowing.wait()
            sink.write(data)
            await sink.drain()
        sink.close()

    def cut(self) -> None:
        self.flowing.clear()

    async def drop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


def _args(url: str) -> dict:
    return _connect_args(url, "test", 5)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("CONVENER_TEST_DATABASE_URL is not set")
    with throwaway_postgres("convener_lease") as url:
        yield url


@pytest.fixture
def role() -> str:
    return f"scheduler-{uuid.uuid4().hex[:8]}"


# PostgreSQL -----------------------------------------------------------------------------------


@needs_postgres
async def test_one_holder_and_a_killed_holder_is_replaced(pg_url, role):
    a, b = Replica(pg_url, role), Replica(pg_url, role)
    try:
        await a.lease.start()
        await b.lease.start()
        assert (a.lease.held, b.lease.held) == (True, False)
        assert (a.calls, b.calls) == (["acquired"], [])
        assert lease_locks(pg_url, a.lease.backend_pid) == 1
        await asyncio.sleep(2 * INTERVAL)  # the standby keeps trying, and keeps failing
        assert not b.lease.held

        terminate(pg_url, a.lease.backend_pid)
        await b.until("acquired")
        await a.until("acquired", "lost")
        assert b.lease.held and not a.lease.held

        await asyncio.sleep(2 * INTERVAL)  # the old holder reconnects and waits its turn
        assert not a.lease.held and a.lease.backend_pid is not None
    finally:
        await a.lease.stop()
        await b.lease.stop()
    assert b.calls == ["acquired", "lost"]
    assert a.lease.backend_pid is None and b.lease.backend_pid is None


@needs_postgres
async def test_the_server_drops_a_silent_holder_within_30_seconds(pg_url, role):
    conn = await Replica(pg_url, role).lease._connect()
    async with conn:
        cursor = await conn.execute(
            "SELECT current_setting('tcp_keepalives_idle')::int"
            " + current_setting('tcp_keepalives_interval')::int"
            " * current_setting('tcp_keepalives_count')::int"
        )
        assert await cursor.fetchone() == (30,)


@needs_postgres
async def test_a_holder_notices_a_killed_connection_at_once(pg_url, role):
    """Not at its next check: the server ending the session wakes the holder."""
    holder = Replica(pg_url, role)
    holder.lease.interval = 60
    try:
        await holder.lease.start()
        terminate(pg_url, holder.lease.backend_pid)
        await holder.until("acquired", "lost")
        assert not holder.lease.held
    finally:
        await holder.lease.stop()
    assert holder.calls == ["acquired", "lost"]


@needs_postgres
async def test_a_holder_cut_off_steps_down_before_anyone_else_can_take_over(pg_url, role):
    """The network to the holder is cut: it steps down after `interval + timeout` without an
    answer, while the server keeps its session and lock, so the standby cannot take over
    until the server drops that session (its keepalives, ~30 s; here at once): never two."""
    proxy = Proxy(pg_url)
    async with proxy as through_proxy:
        holder, standby = Replica(through_proxy, role), Replica(pg_url, role)
        holder.lease.timeout = 0.3
        try:
            await holder.lease.start()
            await standby.lease.start()
            assert holder.lease.held and not standby.lease.held
            proxy.cut()
            await holder.until("acquired", "lost")
            await asyncio.sleep(3 * INTERVAL)  # the server still holds the lock for it
            assert standby.calls == [] and not standby.lease.held
            await proxy.drop()
            await standby.until("acquired")
        finally:
            await standby.lease.stop()
            await holder.lease.stop()


@needs_postgres
async def test_a_stopped_holder_hands_over(pg_url, role):
    a, b = Replica(pg_url, role), Replica(pg_url, role)
    try:
        await a.lease.start()
        await b.lease.start()
        holder_pid = a.lease.backend_pid
        await a.lease.stop()
        assert a.calls == ["acquired", "lost"] and not a.lease.held
        await b.until("acquired")
        assert b.lease.held
        assert lease_locks(pg_url, holder_pid) == 0
        assert lease_locks(pg_url, b.lease.backend_pid) == 1
    finally:
        await a.lease.stop()
        await b.lease.stop()


@needs_postgres
async def test_different_roles_do_not_block_each_other(pg_url, role):
    scheduler, sync = Replica(pg_url, role), Replica(pg_url, f"{role}-matrix-sync")
    try:
        await scheduler.lease.start()
        await sync.lease.start()
        assert scheduler.lease.held and sync.lease.held
    finally:
        await scheduler.lease.stop()
        await sync.lease.stop()


@needs_postgres
async def test_a_failed_take_up_gives_the_lock_back_and_tries_again(pg_url, role):
    a, b = Replica(pg_url, role, fail_first=True), Replica(pg_url, role)
    try:
        await a.lease.start()
        assert not a.lease.held
        assert a.calls == ["acquired", "lost"]  # on_lost undoes what on_acquired began
        await b.lease.start()  # the lock was given back: the other replica takes it
        assert b.lease.held
        await b.lease.stop()
        await a.until("acquired", "lost", "acquired")
        assert a.lease.held
    finally:
        await a.lease.stop()
        await b.lease.stop()


@needs_postgres
async def test_an_unreachable_database_is_not_held_and_start_returns(role):
    lease = Replica("postgresql+psycopg://postgres@127.0.0.1:1/none", role).lease
    try:
        await lease.start()
        assert not lease.held
    finally:
        await lease.stop()


def test_keys_are_stable_signed_64_bit_and_distinct():
    assert lease_key("scheduler") == lease_key("scheduler")
    assert lease_key("scheduler") != lease_key("matrix-sync")
    assert -(2**63) <= lease_key("scheduler") < 2**63


# SQLite -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/convener.db", "sqlite://"])
async def test_on_sqlite_the_lease_is_held_at_once(url, tmp_path):
    replica = Replica(url.format(tmp=tmp_path), "scheduler")
    await replica.lease.start()
    assert replica.lease.held and replica.calls == ["acquired"]
    await replica.lease.stop()
    assert not replica.lease.held and replica.calls == ["acquired", "lost"]


async def test_on_sqlite_a_failed_take_up_raises(tmp_path):
    replica = Replica(f"sqlite:///{tmp_path}/convener.db", "scheduler", fail_first=True)
    with pytest.raises(RuntimeError, match="could not start"):
        await replica.lease.start()
    assert not replica.lease.held and replica.calls == ["acquired", "lost"]


# One process per SQLite file ----------------------------------------------------------------


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path}/convener.db"
    first = hold_single_process(url)
    with pytest.raises(AlreadyRunning) as refused:
        hold_single_process(url)
    message = str(refused.value)
    assert f"{tmp_path}/convener.db (pid {os.getpid()})" in message
    assert "stop it first, or use PostgreSQL for several replicas" in message
    assert refused.value.pid == os.getpid()
    first.release()
    with hold_single_process(url):
        assert (tmp_path / "convener.db.lock").read_text().strip() == str(os.getpid())
    assert (tmp_path / "convener.db.lock").read_text() == ""


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:m?mode=memory&uri=true",
        "postgresql://h/db",
    ],
)
def test_memory_and_postgresql_take_no_lock(url):
    with SingleProcess(url), SingleProcess(url):
        pass


def test_a_killed_holder_releases_the_file(tmp_path):
    url = f"sqlite:///{tmp_path}/convener.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bot.leader import hold_single_process; "
         f"hold_single_process({url!r}); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=rf"\(pid {holder.pid}\)"):
            hold_single_process(url)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=5)
        hold_single_process(url).release()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
