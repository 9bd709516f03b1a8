"""The knowledge library as it stood at the end of the period: the Knowledge sheet."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from bot.models import KnowledgeTopic, Topic
from handlers.reports.period import Period
from handlers.reports.queries.common import K, joined_list


def knowledge(conn: Connection, period: Period) -> Iterator[tuple]:
    """The library as it stood when the period ended: every entry created before then (it is
    cumulative), oldest first, with its topics and its running shown and answered counts."""
    topics = (
        select(KnowledgeTopic.entry_id, joined_list(conn, Topic.name).label("topics"))
        .join(Topic, Topic.id == KnowledgeTopic.topic_id)
        .group_by(KnowledgeTopic.entry_id)
        .subquery()
    )
    query = (
        select(
            K.c.id, K.c.url, K.c.question_id, K.c.title, topics.c.topics, K.c.created_at,
            K.c.shown, K.c.answered,
        )
        .select_from(K.outerjoin(topics, topics.c.entry_id == K.c.id))
        .where(K.c.created_at < period.end)
        .order_by(K.c.created_at, K.c.id)
    )  # fmt: skip
    yield from conn.execution_options(stream_results=True, yield_per=2000).execute(query)
