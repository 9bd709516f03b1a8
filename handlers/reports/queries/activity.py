"""Activity figures: posting-active members, messages, replies, reactions and joins for the
Summary, the Weekly sheet's figures per ISO week, and the Channels sheet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, case, distinct, func, select
from sqlalchemy.sql import ColumnElement

from bot.activity import POSTING_KINDS
from bot.models import Channel
from handlers.reports.period import Period
from handlers.reports.queries.common import (
    A,
    Q,
    first_responses,
    human,
    in_period,
    join_times,
    prompt_replies,
    week_start,
)

COUNTED_KINDS = ("message", "reply", "reaction", "join")


def _posting(period: Period) -> ColumnElement:
    return and_(in_period(A.c.ts, period), A.c.kind.in_(POSTING_KINDS), human(A.c.member_id))


def _kind_counts() -> list[ColumnElement]:
    """Messages, replies, reactions and joins among the rows aggregated."""
    return [func.count(case((A.c.kind == kind, 1))) for kind in COUNTED_KINDS]


def activity_figures(conn: Connection, period: Period) -> dict[str, int]:
    """The posting-active members (`active`) and the messages, replies, reactions and joins
    in the period, in one query: the counts from one pass over the period's rows in the
    (ts, member, channel, kind) index, the active members as the distinct members posting
    in it (SQLite finds them with one seek per member in the (member, ts, kind) index)."""
    posters = select(A.c.member_id).where(_posting(period)).distinct().subquery()
    active = select(func.count()).select_from(posters).scalar_subquery()
    row = conn.execute(
        select(active, *_kind_counts()).where(in_period(A.c.ts, period), human(A.c.member_id))
    ).one()
    return dict(zip(("active", *COUNTED_KINDS), row, strict=True))


def weekly(conn: Connection, period: Period) -> dict[object, dict[str, int]]:
    """Per ISO week (its Monday): the weekly figures."""
    weeks: dict[object, dict[str, int]] = {}

    def put(rows, *names):
        for week, *values in rows:
            bucket = weeks.setdefault(str(week)[:10], {})
            for name, value in zip(names, values, strict=True):
                bucket[name] = value

    for monday, start, end in _weeks(period):
        row = conn.execute(
            select(
                func.count(distinct(case((A.c.kind.in_(POSTING_KINDS), A.c.member_id)))),
                func.sum(case((A.c.kind == "message", 1), else_=0)),
                func.sum(case((A.c.kind == "reply", 1), else_=0)),
                func.sum(case((A.c.kind == "reaction", 1), else_=0)),
            ).where(A.c.ts >= start, A.c.ts < end, human(A.c.member_id))
        ).one()
        put([(monday, *row)], "active", "messages", "replies", "reactions")
    joined = join_times()
    week = week_start(conn, joined.c.joined).label("week")
    put(
        conn.execute(
            select(week, func.count()).where(in_period(joined.c.joined, period)).group_by(week)
        ),
        "new",
    )
    first = first_responses(period)
    week = week_start(conn, Q.c.asked_at).label("week")
    put(
        conn.execute(
            select(week, func.count(), func.count(first.c.first_ts))
            .select_from(Q.outerjoin(first, first.c.question_id == Q.c.id))
            .where(in_period(Q.c.asked_at, period))
            .group_by(week)
        ),
        "asked", "answered",
    )  # fmt: skip
    responses = prompt_replies()
    week = week_start(conn, responses.c.ts).label("week")
    put(
        conn.execute(
            select(week, func.count()).where(in_period(responses.c.ts, period)).group_by(week)
        ),
        "prompt_responses",
    )
    return dict(sorted(weeks.items()))


def week_days(period: Period) -> list[tuple[str, int]]:
    """Each ISO week the period touches (its Monday) and how many of its days fall in the
    period: fewer than 7 for a partial first or last week."""
    return [
        (monday, round((end - start).total_seconds() / 86400))
        for monday, start, end in _weeks(period)
    ]


def _weeks(period: Period) -> Iterator[tuple[str, datetime, datetime]]:
    """The ISO weeks (UTC) the period touches: (Monday, start, end) clipped to the period.
    One indexed range query per week reads each row once, with no per-row date functions."""
    monday = period.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    while monday < period.end:
        following = monday + timedelta(days=7)
        yield monday.date().isoformat(), max(monday, period.start), min(following, period.end)
        monday = following


def channels(conn: Connection, period: Period) -> Iterator[tuple]:
    per_channel = (
        select(
            A.c.channel_id,
            func.count(distinct(case((A.c.kind.in_(POSTING_KINDS), A.c.member_id)))).label("n"),
            func.sum(case((A.c.kind == "message", 1), else_=0)).label("messages"),
            func.sum(case((A.c.kind == "reply", 1), else_=0)).label("replies"),
            func.sum(case((A.c.kind == "reaction", 1), else_=0)).label("reactions"),
            func.sum(case((A.c.kind == "join", 1), else_=0)).label("joins"),
        )
        .where(in_period(A.c.ts, period), human(A.c.member_id))
        .group_by(A.c.channel_id)
        .subquery()
    )
    query = (
        select(
            Channel.platform, Channel.name, per_channel.c.n, per_channel.c.messages,
            per_channel.c.replies, per_channel.c.reactions, per_channel.c.joins,
        )
        .join(per_channel, per_channel.c.channel_id == Channel.id)
        .where(Channel.is_direct.is_(False))
        .order_by(Channel.platform, Channel.name)
    )  # fmt: skip
    yield from conn.execute(query)
