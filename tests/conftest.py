"""Fixtures: a migrated database per test (SQLite always; PostgreSQL too when
CONVENER_TEST_DATABASE_URL is set) and the bot harness, run once per platform name."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.db import upgrade
from bot.models import Base
from bot.settings import Settings
from tests.databases import PG_URL, throwaway_postgres
from tests.harness import PLATFORMS, BotHarness, FakeClock

BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]

# Every word a person reads comes from the catalog: in tests (and the processes they start),
# a plain string or a message missing from bot/locale/convener.pot fails (bot.i18n).
os.environ.setdefault("CONVENER_CATALOG_STRICT", "1")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "convener.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[str]:
    """An empty database, not migrated (a migration's test): a new SQLite file, or a new
    PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not PG_URL:
        pytest.skip("CONVENER_TEST_DATABASE_URL is not set")
    with throwaway_postgres("convener_empty") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway database on the test server, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip("CONVENER_TEST_DATABASE_URL is not set")
    with throwaway_postgres("convener_test") as url:
        upgrade(url)
        yield url


def _truncate(url: str) -> None:
    """Empty every table and restart every id at 1. DELETE, dependents first, rather than
    TRUNCATE: on tables holding a test's few rows it is several times faster."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(
            text(
                "SELECT setval(quote_ident(sequence_name), 1, false)"
                " FROM information_schema.sequences WHERE sequence_schema = current_schema()"
            )
        )
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database: a copy of a template on SQLite, a truncated one on
    PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "convener.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        facilitators="fac,UFAC,@fac:example.org",
        coordinators="coord,UCOORD,@coord:example.org",
        community_name="Municipal Finance Practice",
    )


@pytest.fixture(params=PLATFORMS)
def platform_name(request) -> str:
    return request.param


@pytest.fixture
async def bot(platform_name, settings, clock) -> AsyncIterator[BotHarness]:
    harness = await BotHarness(platform_name, settings, clock).start()
    yield harness
    await harness.close()


def pytest_collection_modifyitems(config, items) -> None:
    """On PostgreSQL, tests that run for every platform name run for one (Slack's), and
    tests marked `one_database` not at all: what differs between platforms is not what
    differs between databases, and the suite stays within its six minutes on two cores."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_postgres = params.get("database_url") == "postgresql"
        if on_postgres and (
            params.get("platform_name") not in (None, "slack")
            or item.get_closest_marker("one_database") is not None
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
