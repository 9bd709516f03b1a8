"""Learning events and calls for expressions of interest: their figures for the Summary,
the Events and Calls sheets."""

from __future__ import annotations

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql import ColumnElement

from bot.i18n import ENGLISH
from bot.models import Channel
from handlers.reports.period import Period
from handlers.reports.queries.common import CI, C, E, M, R, in_period, same, tally


def _events_held(period: Period) -> ColumnElement:
    return and_(in_period(E.c.starts_at, period), E.c.cancelled_at.is_(None))


def _deadline_in(period: Period) -> ColumnElement:
    """A deadline is the midnight after its day, so a day in the period ends in (start, end]."""
    return and_(C.c.deadline > period.start, C.c.deadline <= period.end)


def event_figures(conn: Connection, period: Period) -> dict[str, int]:
    """Events held (starting in the period, not cancelled) and their yes answers."""
    held = select(E.c.id).where(_events_held(period))
    return {
        "held": conn.scalar(select(func.count()).select_from(held.subquery())),
        "yes": conn.scalar(select(func.count()).where(R.c.event_id.in_(held), R.c.answer == "yes")),
    }


def call_figures(conn: Connection, period: Period) -> dict[str, int]:
    """Calls with their deadline in the period and the interests (not withdrawn) in them."""
    calls = select(C.c.id).where(_deadline_in(period))
    return {
        "calls": conn.scalar(select(func.count()).select_from(calls.subquery())),
        "interests": conn.scalar(
            select(func.count()).where(CI.c.call_id.in_(calls), CI.c.withdrawn_at.is_(None))
        ),
    }


def events(conn: Connection, period: Period, shown=same, language: str = ENGLISH) -> list[tuple]:
    """Events starting in the period, with yes/maybe/no counts and the yes answers by city
    (the member's city now): (id, title, starts_at, channel, cancelled_at, yes, maybe, no,
    yes by city, in `language`)."""
    answers = (
        select(
            R.c.event_id,
            func.sum(case((R.c.answer == "yes", 1), else_=0)).label("yes"),
            func.sum(case((R.c.answer == "maybe", 1), else_=0)).label("maybe"),
            func.sum(case((R.c.answer == "no", 1), else_=0)).label("no"),
        )
        .group_by(R.c.event_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            E.c.id, E.c.title, E.c.starts_at, Channel.name, E.c.cancelled_at,
            func.coalesce(answers.c.yes, 0), func.coalesce(answers.c.maybe, 0),
            func.coalesce(answers.c.no, 0),
        )
        .select_from(
            E.join(Channel, Channel.id == E.c.channel_id)
            .outerjoin(answers, answers.c.event_id == E.c.id)
        )
        .where(in_period(E.c.starts_at, period))
        .order_by(E.c.starts_at, E.c.id)
    ).all()  # fmt: skip
    cities: dict[int, list] = {}
    for event_id, city, n in conn.execute(
        select(R.c.event_id, M.c.city, func.count())
        .join(M, M.c.id == R.c.member_id)
        .where(R.c.answer == "yes", R.c.event_id.in_([row[0] for row in rows]))
        .group_by(R.c.event_id, M.c.city)
    ):
        cities.setdefault(event_id, []).append((city, n))
    return [(*row, tally(cities.get(row[0], []), shown, "city", language)) for row in rows]


def calls(conn: Connection, period: Period, shown=same, language: str = ENGLISH) -> list[tuple]:
    """Calls whose deadline falls in the period or that were still open at its end, with the
    interests (not withdrawn) by city and by organisation as given when expressing interest:
    (id, title, deadline, open at the period's end, interests, by city, by organisation, in
    `language`)."""
    interested = CI.c.withdrawn_at.is_(None)
    counts = (
        select(CI.c.call_id, func.count().label("n"))
        .where(interested)
        .group_by(CI.c.call_id)
        .subquery()
    )
    open_at_end = and_(
        C.c.deadline > period.end, or_(C.c.closed_at.is_(None), C.c.closed_at > period.end)
    )
    rows = conn.execute(
        select(
            C.c.id, C.c.title, C.c.deadline, open_at_end, func.coalesce(counts.c.n, 0),
        )
        .select_from(C.outerjoin(counts, counts.c.call_id == C.c.id))
        .where(or_(_deadline_in(period), and_(C.c.created_at < period.end, open_at_end)))
        .order_by(C.c.deadline, C.c.id)
    ).all()  # fmt: skip
    ids = [row[0] for row in rows]
    by: dict[str, dict[int, list]] = {"city": {}, "org": {}}
    for field, groups in by.items():
        column = CI.c[field]
        for call_id, value, n in conn.execute(
            select(CI.c.call_id, column, func.count())
            .where(interested, CI.c.call_id.in_(ids))
            .group_by(CI.c.call_id, column)
        ):
            groups.setdefault(call_id, []).append((value, n))
    return [
        (*row, tally(by["city"].get(row[0], []), shown, "city", language),
         tally(by["org"].get(row[0], []), shown, "org", language))
        for row in rows
    ]  # fmt: skip
