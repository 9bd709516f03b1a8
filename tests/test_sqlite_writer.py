"""SQLite's one writer (`bot.db.SQLiteWriter`): sessions, units on their thread and the
activity log write at once, one at a time, and SQLite itself is never made to wait: these
tests set SQLite's busy timeout to zero, so any write that reached it while another was open
would fail at once with "database is locked"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from bot.activity import ActivityLog
from bot.db import Database
from bot.models import KeyValue
from bot.settings import Settings
from bot.types import ChannelRef, Message, UserRef

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path, sqlite_template):
    path = tmp_path / "writer.db"
    path.write_bytes(sqlite_template.read_bytes())
    database = Database(f"sqlite:///{path}")
    for engine in database.sync_engines:
        event.listen(engine, "connect", _impatient)
    yield database
    await database.dispose()


def _impatient(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _put(key: str) -> dict:
    return {"scope": "test", "key": key, "value": "v", "updated_at": NOW}


async def _session_write(db: Database, key: str, pause: float = 0) -> None:
    async with db.sessions() as session:
        await session.execute(insert(KeyValue).values(**_put(key)))
        await asyncio.sleep(pause)  # the transaction stays open across other tasks' turns
        await session.execute(insert(KeyValue).values(**_put(key + "'")))
        await session.commit()


def _unit_write(session: Session, key: str) -> None:
    session.execute(insert(KeyValue).values(**_put(key)))
    session.commit()


async def _count(db: Database) -> int:
    async with db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(KeyValue))


async def test_sessions_units_and_the_activity_log_write_at_once(db):
    activity = ActivityLog(db, Settings(_env_file=None, database_url=db.url), lambda: NOW)
    for n in range(200):
        user = UserRef("console", f"m{n % 20}")
        activity.record(Message(f"e{n}", user, ChannelRef("console", "general"), NOW, "hi"))
    work = [_session_write(db, f"s{n}", pause=0.001 * (n % 3)) for n in range(40)]
    work += [db.unit(_unit_write, f"u{n}") for n in range(40)]
    work += [activity.flush()]
    results = await asyncio.gather(*work, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await _count(db) == 40 * 2 + 40
    assert activity.written == 200


async def test_a_write_cut_short_gives_the_writer_back(db):
    started = asyncio.Event()

    async def hang() -> None:
        async with db.sessions() as session:
            await session.execute(insert(KeyValue).values(**_put("cut")))
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hang())
    await started.wait()
    waiting = asyncio.create_task(_session_write(db, "after"))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # queued behind the open write, not failing in SQLite
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(waiting, 5)
    assert await _count(db) == 2  # the cut write was rolled back


async def test_a_second_write_in_the_same_task_is_refused_not_hung(db):
    async with db.sessions() as first:
        await first.execute(insert(KeyValue).values(**_put("a")))
        with pytest.raises(RuntimeError, match="second write transaction"):
            await db.unit(_unit_write, "b")
        with pytest.raises(Exception, match="second write transaction"):
            async with db.sessions() as second:
                await second.execute(insert(KeyValue).values(**_put("c")))
        await first.commit()
    await db.unit(_unit_write, "d")  # and the writer is free again
    assert await _count(db) == 2


async def test_a_cancelled_unit_keeps_the_writer_until_its_thread_is_done(db):
    gate = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def slow(session: Session) -> None:
        session.execute(insert(KeyValue).values(**_put("slow")))
        asyncio.run_coroutine_threadsafe(_resolve(gate), loop).result()
        import time

        time.sleep(0.05)  # still writing after its caller was cancelled
        session.commit()

    unit = asyncio.create_task(db.unit(slow))
    await gate
    unit.cancel()
    await _session_write(db, "next")  # must wait for the unit, not collide with it in SQLite
    await asyncio.gather(unit, return_exceptions=True)
    assert await _count(db) == 3


async def _resolve(future: asyncio.Future) -> None:
    future.set_result(None)


async def test_a_write_cancelled_mid_statement_leaves_no_lock_behind(db):
    """Cancelled while SQLite runs its statement (SIGTERM past the grace period): the next
    writer still writes at once, with no connection left holding SQLite's lock."""
    rows = [_put(f"bulk{n}") for n in range(20_000)]
    for attempt in range(5):

        async def bulk() -> None:
            async with db.sessions() as session:
                await session.execute(insert(KeyValue), rows)
                await session.commit()

        task = asyncio.create_task(bulk())
        await asyncio.sleep(0.002 * attempt)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await _session_write(db, f"after{attempt}")
    async with db.sessions() as session:
        after = await session.scalar(
            select(func.count()).select_from(KeyValue).where(KeyValue.key.like("after%"))
        )
    assert after == 10
