"""Member figures: the members, new members and their retention for the Summary, the
Members sheet (a row per member with their figures and status), and the profile values
enough members share to be shown in a pseudonymous report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Connection, Subquery, and_, case, distinct, func, or_, select
from sqlalchemy.sql import ColumnElement

from bot.activity import POSTING_KINDS
from bot.i18n import _
from bot.models import Expertise, Topic
from handlers.reports.period import Period
from handlers.reports.queries.common import (
    A,
    M,
    Q,
    in_period,
    join_times,
    joined_in,
    joined_list,
    plus_days,
    prompt_replies,
    responds_to_question,
)


def _threads_per_member(replies: tuple, source, period: Period, label: str) -> Subquery:
    """How many threads each member replied in during the period; `replies` are the
    (thread, member, ts) columns of `source`. The period is tested after grouping, so that
    the replies are found through each thread (a few rows each in the (channel, thread)
    index), not by reading every row of the period."""
    thread, member, ts = replies
    touched = (
        select(thread, member)
        .select_from(source)
        .group_by(thread, member)
        .having(func.max(case((in_period(ts, period), 1))) == 1)
        .subquery()
    )
    return (
        select(touched.c.member_id, func.count().label(label))
        .group_by(touched.c.member_id)
        .subquery()
    )


def new_members(conn: Connection, period: Period) -> list[tuple[int, datetime]]:
    return list(conn.execute(joined_in(period)))


def new_member_count(conn: Connection, period: Period) -> int:
    return conn.scalar(select(func.count()).select_from(joined_in(period).subquery()))


def retention(conn: Connection, period: Period, first: int, last: int) -> tuple[int, int]:
    """The period's new members who have had all `last` days after joining by its end, and
    how many of them posted again `first`..`last` days after joining: one query, each
    newcomer's days looked up in the (member, ts, kind) index."""
    newcomers = joined_in(period).subquery()
    ready = select(newcomers).where(plus_days(conn, newcomers.c.joined, last) <= period.end)
    ready = ready.subquery()
    again = and_(
        A.c.member_id == ready.c.member_id,
        A.c.kind.in_(POSTING_KINDS),
        A.c.ts >= plus_days(conn, ready.c.joined, first),
        A.c.ts < plus_days(conn, ready.c.joined, last + 1),
    )
    ready_count, kept = conn.execute(
        select(
            func.count(distinct(ready.c.member_id)), func.count(distinct(A.c.member_id))
        ).select_from(ready.outerjoin(A, again))
    ).one()
    return ready_count, kept


def member_total(conn: Connection, period: Period) -> int:
    """Members (bots excluded) who had joined by the end of the period."""
    joined = join_times()
    return conn.scalar(
        select(func.count())
        .select_from(joined.join(M, M.c.id == joined.c.member_id))
        .where(M.c.is_bot.is_(False), joined.c.joined < period.end)
    )


def members(conn: Connection, period: Period) -> Iterator[tuple]:
    """One row per member (bots excluded), streamed, with their figures for the period.
    The counts come from one pass over the period's rows in the (member, ts, kind) index;
    first and last activity (up to the period's end) are one seek each in that index."""

    def seek(extreme, *where) -> ColumnElement:
        return (
            select(extreme(A.c.ts))
            .where(A.c.member_id == M.c.id, A.c.ts < period.end, *where)
            .scalar_subquery()
        )

    first_ts, last_ts = seek(func.min), seek(func.max)
    last_post = seek(func.max, A.c.kind.in_(POSTING_KINDS))
    per_member = (
        select(
            A.c.member_id,
            *[func.count(case((A.c.kind == kind, 1))).label(kind) for kind in POSTING_KINDS],
        )
        .where(in_period(A.c.ts, period))
        .group_by(A.c.member_id)
        .subquery()
    )
    asked = (
        select(Q.c.asker_id.label("member_id"), func.count().label("asked"))
        .where(in_period(Q.c.asked_at, period))
        .group_by(Q.c.asker_id)
        .subquery()
    )
    answered = _threads_per_member(
        (Q.c.id, A.c.member_id, A.c.ts), Q.join(A, responds_to_question()), period, "answered"
    )
    responses = prompt_replies()
    replies = (responses.c.run_id, responses.c.member_id, responses.c.ts)
    prompted = _threads_per_member(replies, responses, period, "prompts")
    offers = (
        select(Expertise.member_id, joined_list(conn, Topic.name).label("topics"))
        .join(Topic, Topic.id == Expertise.topic_id)
        .where(Expertise.kind == "offers")
        .group_by(Expertise.member_id)
        .subquery()
    )
    joined = func.coalesce(M.c.joined_at, first_ts)
    query = (
        select(
            M.c.id, M.c.display_name, M.c.city, M.c.org, M.c.role_title, joined,
            first_ts, last_ts, last_post,
            func.coalesce(per_member.c.message, 0), func.coalesce(per_member.c.reply, 0),
            func.coalesce(per_member.c.reaction, 0), func.coalesce(asked.c.asked, 0),
            func.coalesce(answered.c.answered, 0), func.coalesce(prompted.c.prompts, 0),
            offers.c.topics,
        )
        .select_from(
            M.outerjoin(per_member, per_member.c.member_id == M.c.id)
            .outerjoin(asked, asked.c.member_id == M.c.id)
            .outerjoin(answered, answered.c.member_id == M.c.id)
            .outerjoin(prompted, prompted.c.member_id == M.c.id)
            .outerjoin(offers, offers.c.member_id == M.c.id)
        )
        .where(M.c.is_bot.is_(False), or_(joined.is_(None), joined < period.end))
        .order_by(M.c.display_name, M.c.id)
    )  # fmt: skip
    yield from conn.execution_options(stream_results=True, yield_per=2000).execute(query)


def member_status(joined, last_post, period: Period) -> str:
    """new: first joined in the period; active: posted in the period; quiet: posted in the
    90 days before the period ends but not in it; dormant: otherwise."""
    if joined is not None and period.start <= joined < period.end:
        return "new"
    if last_post is not None and period.start <= last_post < period.end:
        return "active"
    if last_post is not None and period.end - timedelta(days=90) <= last_post < period.end:
        return "quiet"
    return "dormant"


QUASI_IDENTIFIERS = {"city": M.c.city, "org": M.c.org, "role": M.c.role_title}
# Translators: in a pseudonymous workbook, a city, organisation or role too few members share
# to be shown.
OTHER = _("other")


def shared_values(conn: Connection, field: str, at_least: int) -> set[str]:
    """The values of a profile field (`city`, `org`, `role`) that at least `at_least`
    members share, compared by `quasi_key`."""
    column = QUASI_IDENTIFIERS[field]
    counts: dict[str, int] = {}
    for value, n in conn.execute(
        select(column, func.count())
        .where(column.is_not(None), M.c.is_bot.is_(False))
        .group_by(column)
    ):
        counts[quasi_key(value)] = counts.get(quasi_key(value), 0) + n
    return {key for key, n in counts.items() if n >= at_least}


def quasi_key(value: str) -> str:
    return " ".join(value.split()).casefold()
