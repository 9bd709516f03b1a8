"""Throwaway databases for tests: the PostgreSQL server named by CONVENER_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("CONVENER_TEST_DATABASE_URL", "")


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str]:
    """A new, empty database on the test server (its URL), dropped afterwards."""
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` (Alembic, in one transaction)."""
    from alembic import command

    from bot.db import alembic_config

    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()
