"""Building a report off the event loop: a synchronous engine on a worker thread streams
the aggregates into the workbook, so the bot keeps answering while a large report is made
(the queries are SQL aggregates; only rows being written are in memory)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import Connection, create_engine, select
from sqlalchemy.engine import URL

from bot import logs
from bot.i18n import ENGLISH, _, render
from bot.models import KeyValue
from handlers.reports import queries
from handlers.reports.period import Period
from handlers.reports.workbook import Writer

SECRET_SCOPE, SECRET_KEY = "reports", "pseudonym-secret"


@contextmanager
def connect(sync_url: URL | str) -> Iterator[Connection]:
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def pseudonyms(conn: Connection, now: datetime, language: str = ENGLISH):
    """Stable pseudonyms: an HMAC of the member id under a secret kept in the database, so a
    member has the same pseudonym in every report (its word in the report's `language`) and
    names cannot be worked back."""
    table = KeyValue.__table__
    where = (table.c.scope == SECRET_SCOPE) & (table.c.key == SECRET_KEY)
    secret = conn.scalar(select(table.c.value).where(where))
    if secret is None:
        secret = secrets.token_hex(16)
        conn.execute(
            table.insert().values(scope=SECRET_SCOPE, key=SECRET_KEY, value=secret, updated_at=now)
        )
        conn.commit()
    logs.redact(secret)
    key = secret.encode()

    def pseudonym(member_id: int, _name: str) -> str:
        digest = hmac.new(key, str(member_id).encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest[:5]).decode()[:6]
        # Translators: a member's pseudonym in a pseudonymous workbook ("Member K3J5QA").
        return render(_("Member {code}", code=code), language)

    return pseudonym


def pull_detail(period: Period, pseudonymous: bool, cli: bool = False) -> str:
    """How a report pull reads in the audit log."""
    return (
        f"{period.first_day} to {period.last_day}"
        + (", pseudonymous" if pseudonymous else "")
        + (" (command line)" if cli else "")
    )


def write_report(
    sync_url: URL | str,
    period: Period,
    target: str | IO[bytes],
    *,
    now: datetime,
    timezone: str,
    pseudonymous: bool = False,
    community: str = "",
    language: str = ENGLISH,
) -> None:
    """The engagement workbook for `period` into `target`, in `language` (a code
    `bot.i18n.code` gave)."""
    with connect(sync_url) as conn:
        if conn.dialect.name == "postgresql":
            # Every result is read to its end, through server-side cursors (streamed): plan
            # each for all its rows, not for its first tenth as PostgreSQL does for cursors
            # (that chose nested loops that made the Members query four times slower).
            conn.exec_driver_sql("SET cursor_tuple_fraction = 1.0")
            conn.commit()
        pseudonym = pseudonyms(conn, now, language) if pseudonymous else None
        Writer(conn, period, now, timezone, pseudonym, community, language).write(target)


@dataclass
class Stats:
    active: int
    new: int
    messages: int
    replies: int
    reactions: int
    asked: int
    answered: int
    median_hours: float | None
    prompt_responses: int


def stats(sync_url: URL | str, period: Period, now: datetime) -> Stats:
    with connect(sync_url) as conn:
        counts = queries.activity_figures(conn, period)
        times = queries.response_times(conn, period, now)
        return Stats(
            active=counts["active"],
            new=queries.new_member_count(conn, period),
            messages=counts["message"],
            replies=counts["reply"],
            reactions=counts["reaction"],
            asked=times.asked,
            answered=times.answered,
            median_hours=times.median,
            prompt_responses=queries.prompt_figures(conn, period)["responses"],
        )
