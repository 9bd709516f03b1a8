"""Replicas starting together all come up: on PostgreSQL `bot.db.upgrade` holds an advisory
lock while it migrates, so two upgrades of an empty database at once (two `convener db
upgrade` processes, or two threads of one process) both succeed, one after the other."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from bot.db import MIGRATION_LOCK_KEY, alembic_config, upgrade
from tests.databases import PG_URL, throwaway_postgres

pytestmark = pytest.mark.skipif(not PG_URL, reason="CONVENER_TEST_DATABASE_URL is not set")

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def migrated_to(url: str) -> tuple[str, int]:
    """The database's revision, and how many advisory locks are still held on it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            held = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = database "
                    "WHERE locktype = 'advisory' AND d.datname = current_database()"
                )
            )
    finally:
        engine.dispose()
    return revision, held


@pytest.mark.slow
@pytest.mark.parametrize("round", range(ROUNDS))
def test_two_processes_upgrade_an_empty_database_at_once(round, tmp_path):
    with throwaway_postgres("convener_lock") as url:
        env = {**os.environ, "CONVENER_DATABASE_URL": url, "CONVENER_LOG_LEVEL": "INFO"}
        command = [sys.executable, "-m", "bot.cli", "db", "upgrade"]
        runs = [
            subprocess.Popen(
                command,
                cwd=tmp_path,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outcomes = [(run, *run.communicate(timeout=120)) for run in runs]
        for run, out, err in outcomes:
            assert run.returncode == 0, err[-3000:]
            assert "is up to date" in out
        assert migrated_to(url) == (head(), 0)


@pytest.mark.parametrize("round", range(ROUNDS))
def test_two_threads_upgrade_an_empty_database_at_once(round):
    with throwaway_postgres("convener_lock") as url:
        together = threading.Barrier(2)
        failures: list[BaseException] = []

        def migrate() -> None:
            try:
                together.wait(timeout=30)
                upgrade(url)
            except BaseException as exc:
                failures.append(exc)

        # Daemon threads, so that a deadlock fails the test instead of hanging it (dropping
        # the database at the end ends their connections).
        threads = [threading.Thread(target=migrate, daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "the upgrades deadlocked"
        assert failures == []
        assert migrated_to(url) == (head(), 0)


def test_an_upgrade_waits_for_the_lock(tmp_path):
    """While someone holds the lock, an upgrade waits; it runs once the lock is let go."""
    with throwaway_postgres("convener_lock") as url:
        engine = create_engine(url)
        try:
            with engine.connect() as holder:
                holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                with ThreadPoolExecutor(1) as pool:
                    waiting = pool.submit(upgrade, url)
                    with pytest.raises(TimeoutError):
                        waiting.result(timeout=2)
                    holder.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                    holder.commit()
                    waiting.result(timeout=60)
        finally:
            engine.dispose()
        assert migrated_to(url) == (head(), 0)
