"""One query per report figure (a query may give several figures that come from the same
rows, in one pass over them). Every function takes a synchronous SQLAlchemy `Connection`
(reports are built on a worker thread) and a `Period`; they work on SQLite and PostgreSQL.

Bots are excluded everywhere. "Posting" means the activity kinds message, reply, reaction.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Connection,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce
from sqlalchemy.types import Date, Integer, String

from bot.activity import POSTING_KINDS
from bot.models import (
    Activity,
    Call,
    CallInterest,
    Channel,
    Event,
    EventRsvp,
    Expertise,
    KnowledgeEntry,
    KnowledgeTopic,
    Member,
    PromptRun,
    Question,
    QuestionExpert,
    QuestionTopic,
    Topic,
)
from handlers.reports.period import Period

A, M, Q, P = Activity.__table__, Member.__table__, Question.__table__, PromptRun.__table__
K = KnowledgeEntry.__table__
E, R, C, CI = Event.__table__, EventRsvp.__table__, Call.__table__, CallInterest.__table__
BOTS = select(M.c.id).where(M.c.is_bot.is_(True))


def human(column) -> ColumnElement:
    """Not a bot (bots are few, so the exclusion list stays tiny however large the log)."""
    return column.not_in(BOTS)


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


def week_start(conn: Connection, column) -> ColumnElement:
    """The Monday (a date) of the ISO week a timestamp falls in, in UTC."""
    if _dialect(conn) == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    weekday = cast(func.strftime("%w", column), Integer)
    offset = literal("-").concat(cast((weekday + 6) % 7, String)).concat(" days")
    return func.date(column, offset)


def plus_days(conn: Connection, column, days: int) -> ColumnElement:
    """A UTC timestamp `days` whole days later, exactly, in SQL. SQLite keeps timestamps as
    text (`YYYY-MM-DD HH:MM:SS.ffffff`): the days are added to the date and the time of day
    is kept as written, to the microsecond (its date functions round to milliseconds)."""
    if _dialect(conn) == "postgresql":
        later = column + func.make_interval(0, 0, 0, 0, 24 * days)
    else:
        day = func.date(func.substr(column, 1, 10), f"{days:+d} days")
        later = day.concat(func.substr(column, 11))
    return type_coerce(later, A.c.ts.type)


def joined_list(conn: Connection, column) -> ColumnElement:
    if _dialect(conn) == "postgresql":
        return func.string_agg(column, literal_column("', '"))
    return func.group_concat(column, ", ")


def in_period(column, period: Period) -> ColumnElement:
    return and_(column >= period.start, column < period.end)


def _threads_per_member(replies: tuple, source, period: Period, label: str):
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


def _posting(period: Period):
    return and_(in_period(A.c.ts, period), A.c.kind.in_(POSTING_KINDS), human(A.c.member_id))


# Summary figures ----------------------------------------------------------------------


COUNTED_KINDS = ("message", "reply", "reaction", "join")


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


def _joined_at():
    """When each member first joined; their first activity when no join was seen (looked up
    only for those members, in the (member, ts, kind) index)."""
    unseen = select(M.c.id).where(M.c.joined_at.is_(None))
    first = (
        select(A.c.member_id, func.min(A.c.ts).label("first_ts"))
        .where(A.c.member_id.in_(unseen))
        .group_by(A.c.member_id)
        .subquery()
    )
    return (
        select(
            M.c.id.label("member_id"),
            func.coalesce(M.c.joined_at, first.c.first_ts).label("joined"),
        )
        .select_from(M.outerjoin(first, first.c.member_id == M.c.id))
        .where(M.c.is_bot.is_(False))
        .subquery()
    )


def _newcomers(period: Period):
    """The members who first joined in the period: (member_id, joined)."""
    joined = _joined_at()
    return select(joined.c.member_id, joined.c.joined).where(in_period(joined.c.joined, period))


def new_members(conn: Connection, period: Period) -> list[tuple[int, datetime]]:
    return list(conn.execute(_newcomers(period)))


def new_member_count(conn: Connection, period: Period) -> int:
    return conn.scalar(select(func.count()).select_from(_newcomers(period).subquery()))


def retention(conn: Connection, period: Period, first: int, last: int) -> tuple[int, int]:
    """The period's new members who have had all `last` days after joining by its end, and
    how many of them posted again `first`..`last` days after joining: one query, each
    newcomer's days looked up in the (member, ts, kind) index."""
    newcomers = _newcomers(period).subquery()
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


def _responds_to_question() -> ColumnElement:
    """An activity that responds to a question: a reply in its thread, not by the asker."""
    return and_(
        A.c.channel_id == Q.c.channel_id,
        A.c.thread_id == Q.c.message_id,
        A.c.kind == "reply",
        A.c.member_id != Q.c.asker_id,
    )


def _first_response(period: Period):
    """Per question asked in the period: the first reply in its thread by someone other than
    the asker."""
    return (
        select(Q.c.id.label("question_id"), func.min(A.c.ts).label("first_ts"))
        .select_from(Q.join(A, _responds_to_question()))
        .where(in_period(Q.c.asked_at, period), human(A.c.member_id))
        .group_by(Q.c.id)
        .subquery()
    )


@dataclass
class ResponseTimes:
    asked: int
    answered: int
    solved: int
    hours: list[float]
    unanswered_24h: int
    unanswered_72h: int

    @property
    def median(self) -> float | None:
        return percentile(self.hours, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.hours, 90)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (Excel's PERCENTILE.INC)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]


def response_times(conn: Connection, period: Period, now: datetime) -> ResponseTimes:
    """Questions asked in the period: answered, solved, hours to a first response, and how
    many were still unanswered 24 and 72 hours after being asked (counted only for
    questions at least that old)."""
    first = _first_response(period)
    rows = conn.execute(
        select(Q.c.asked_at, first.c.first_ts, Q.c.solved_at)
        .select_from(Q.outerjoin(first, first.c.question_id == Q.c.id))
        .where(in_period(Q.c.asked_at, period), human(Q.c.asker_id))
    ).all()
    hours, late24, late72, solved = [], 0, 0, 0
    for asked, first_ts, solved_at in rows:
        solved += solved_at is not None
        waited = (first_ts - asked) if first_ts else None
        if waited is not None:
            hours.append(waited.total_seconds() / 3600)
        for limit, bump in ((24, 1), (72, 2)):
            if now - asked >= timedelta(hours=limit) and (
                waited is None or waited > timedelta(hours=limit)
            ):
                if bump == 1:
                    late24 += 1
                else:
                    late72 += 1
    return ResponseTimes(len(rows), len(hours), solved, hours, late24, late72)


def _prompt_responses(*runs: ColumnElement):
    """Replies in the threads of prompt runs (those matching `runs`, if given)."""
    return (
        select(
            P.c.id.label("run_id"),
            A.c.member_id,
            A.c.ts,
        )
        .select_from(
            P.join(
                A,
                and_(
                    A.c.channel_id == P.c.channel_id,
                    A.c.thread_id == P.c.message_id,
                    A.c.kind == "reply",
                ),
            )
        )
        .where(human(A.c.member_id), *runs)
        .subquery()
    )


def prompt_figures(conn: Connection, period: Period) -> dict[str, int]:
    """Prompt runs posted in the period, replies in their threads, unique responders."""
    posted = in_period(P.c.posted_at, period)
    responses = _prompt_responses(posted)
    runs = select(P.c.id).where(posted)
    row = conn.execute(
        select(func.count(), func.count(distinct(responses.c.member_id))).select_from(responses)
    ).one()
    return {
        "runs": conn.scalar(select(func.count()).select_from(runs.subquery())),
        "responses": row[0],
        "responders": row[1],
    }


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


QUASI_IDENTIFIERS = {"city": M.c.city, "org": M.c.org, "role": M.c.role_title}
OTHER = "other"


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


def same(field: str, value: str | None) -> str | None:
    return value


def tally(pairs, shown=same, field: str = "") -> str:
    """`[("Nairobi", 3), ("Seoul", 1)]` as "Nairobi 3, Seoul 1", most first; `shown(field,
    value)` may replace values first (pseudonymous reports group rare ones as "other")."""
    counts: dict[str, int] = {}
    for value, n in pairs:
        name = shown(field, value)
        key = (name or "").strip() or "unknown"
        counts[key] = counts.get(key, 0) + n
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))
    return ", ".join(f"{name} {n}" for name, n in ordered)


# Sheets -------------------------------------------------------------------------------


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
    joined = _joined_at()
    week = week_start(conn, joined.c.joined).label("week")
    put(
        conn.execute(
            select(week, func.count()).where(in_period(joined.c.joined, period)).group_by(week)
        ),
        "new",
    )
    first = _first_response(period)
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
    responses = _prompt_responses()
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


def member_total(conn: Connection, period: Period) -> int:
    """Members (bots excluded) who had joined by the end of the period."""
    joined = _joined_at()
    return conn.scalar(
        select(func.count())
        .select_from(joined.join(M, M.c.id == joined.c.member_id))
        .where(M.c.is_bot.is_(False), joined.c.joined < period.end)
    )


def _weeks(period: Period) -> Iterator[tuple[str, datetime, datetime]]:
    """The ISO weeks (UTC) the period touches: (Monday, start, end) clipped to the period.
    One indexed range query per week reads each row once, with no per-row date functions."""
    monday = period.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    while monday < period.end:
        following = monday + timedelta(days=7)
        yield monday.date().isoformat(), max(monday, period.start), min(following, period.end)
        monday = following


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
        (Q.c.id, A.c.member_id, A.c.ts), Q.join(A, _responds_to_question()), period, "answered"
    )
    responses = _prompt_responses()
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


def questions(conn: Connection, period: Period) -> Iterator[tuple]:
    first = _first_response(period)
    topics = (
        select(QuestionTopic.question_id, joined_list(conn, Topic.name).label("topics"))
        .join(Topic, Topic.id == QuestionTopic.topic_id)
        .group_by(QuestionTopic.question_id)
        .subquery()
    )
    experts = (
        select(QuestionExpert.question_id, func.count().label("experts"))
        .where(QuestionExpert.status != "facilitator")
        .group_by(QuestionExpert.question_id)
        .subquery()
    )
    query = (
        select(
            Q.c.id, Q.c.asked_at, topics.c.topics, M.c.display_name, M.c.id,
            func.coalesce(experts.c.experts, 0), first.c.first_ts, Q.c.solved_at,
            Q.c.escalations, Q.c.text,
        )
        .select_from(
            Q.join(M, M.c.id == Q.c.asker_id)
            .outerjoin(first, first.c.question_id == Q.c.id)
            .outerjoin(topics, topics.c.question_id == Q.c.id)
            .outerjoin(experts, experts.c.question_id == Q.c.id)
        )
        .where(in_period(Q.c.asked_at, period))
        .order_by(Q.c.asked_at, Q.c.id)
    )  # fmt: skip
    yield from conn.execution_options(stream_results=True, yield_per=2000).execute(query)


def prompts(conn: Connection, period: Period) -> Iterator[tuple]:
    """Per prompt run: responses, unique responders, and first-time responders (members
    whose first reply to any prompt is in this run)."""
    responses = _prompt_responses()
    # Each member's replies to each run (found through the runs' threads), then each
    # member's first reply to any prompt over those few rows: a member is a first-time
    # responder in the run whose first reply is their first reply to any prompt.
    pairs = (
        select(
            responses.c.run_id,
            responses.c.member_id,
            func.count().label("replies"),
            func.min(responses.c.ts).label("first_ts"),
        )
        .group_by(responses.c.run_id, responses.c.member_id)
        .subquery()
    )
    debut = select(
        pairs,
        func.min(pairs.c.first_ts).over(partition_by=pairs.c.member_id).label("debut"),
    ).subquery()
    per_run = (
        select(
            debut.c.run_id,
            func.sum(debut.c.replies).label("responses"),
            func.count().label("responders"),
            func.count(case((debut.c.first_ts == debut.c.debut, 1))).label("firsts"),
        )
        .group_by(debut.c.run_id)
        .subquery()
    )
    query = (
        select(
            P.c.posted_at, Channel.platform, Channel.name, P.c.text,
            func.coalesce(per_run.c.responses, 0), func.coalesce(per_run.c.responders, 0),
            func.coalesce(per_run.c.firsts, 0),
        )
        .select_from(
            P.join(Channel, Channel.id == P.c.channel_id)
            .outerjoin(per_run, per_run.c.run_id == P.c.id)
        )
        .where(in_period(P.c.posted_at, period))
        .order_by(P.c.posted_at)
    )  # fmt: skip
    yield from conn.execute(query)


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


def events(conn: Connection, period: Period, shown=same) -> list[tuple]:
    """Events starting in the period, with yes/maybe/no counts and the yes answers by city
    (the member's city now): (id, title, starts_at, channel, cancelled_at, yes, maybe, no,
    yes by city)."""
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
    return [(*row, tally(cities.get(row[0], []), shown, "city")) for row in rows]


def calls(conn: Connection, period: Period, shown=same) -> list[tuple]:
    """Calls whose deadline falls in the period or that were still open at its end, with the
    interests (not withdrawn) by city and by organisation as given when expressing interest:
    (id, title, deadline, open at the period's end, interests, by city, by organisation)."""
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
        (*row, tally(by["city"].get(row[0], []), shown, "city"),
         tally(by["org"].get(row[0], []), shown, "org"))
        for row in rows
    ]  # fmt: skip
