"""What the report's queries share: the tables, the exclusion of bots, period and date
arithmetic in SQL on SQLite and PostgreSQL, when each member joined, the first response to
each question (and who gave it), the replies to prompts, and `tally` for counts by city or
organisation."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    Select,
    Subquery,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce
from sqlalchemy.types import Date, Integer, String

from bot.i18n import ENGLISH, _, render
from bot.models import (
    Activity,
    Call,
    CallInterest,
    Event,
    EventRsvp,
    KnowledgeEntry,
    Member,
    PromptRun,
    Question,
)
from handlers.reports.period import Period

A, M, Q, P = Activity.__table__, Member.__table__, Question.__table__, PromptRun.__table__
K = KnowledgeEntry.__table__
E, R, C, CI = Event.__table__, EventRsvp.__table__, Call.__table__, CallInterest.__table__
BOTS = select(M.c.id).where(M.c.is_bot.is_(True))


def human(column) -> ColumnElement:
    """Not a bot (bots are few, so the exclusion list stays tiny however large the log)."""
    return column.not_in(BOTS)


def dialect(conn: Connection) -> str:
    return conn.dialect.name


def week_start(conn: Connection, column) -> ColumnElement:
    """The Monday (a date) of the ISO week a timestamp falls in, in UTC."""
    if dialect(conn) == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    weekday = cast(func.strftime("%w", column), Integer)
    offset = literal("-").concat(cast((weekday + 6) % 7, String)).concat(" days")
    return func.date(column, offset)


def plus_days(conn: Connection, column, days: int) -> ColumnElement:
    """A UTC timestamp `days` whole days later, exactly, in SQL. SQLite keeps timestamps as
    text (`YYYY-MM-DD HH:MM:SS.ffffff`): the days are added to the date and the time of day
    is kept as written, to the microsecond (its date functions round to milliseconds)."""
    if dialect(conn) == "postgresql":
        later = column + func.make_interval(0, 0, 0, 0, 24 * days)
    else:
        day = func.date(func.substr(column, 1, 10), f"{days:+d} days")
        later = day.concat(func.substr(column, 11))
    return type_coerce(later, A.c.ts.type)


def joined_list(conn: Connection, column) -> ColumnElement:
    if dialect(conn) == "postgresql":
        return func.string_agg(column, literal_column("', '"))
    return func.group_concat(column, ", ")


def in_period(column, period: Period) -> ColumnElement:
    return and_(column >= period.start, column < period.end)


def join_times() -> Subquery:
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


def joined_in(period: Period) -> Select:
    """The members who first joined in the period: (member_id, joined)."""
    joined = join_times()
    return select(joined.c.member_id, joined.c.joined).where(in_period(joined.c.joined, period))


def responds_to_question() -> ColumnElement:
    """An activity that responds to a question: a reply in its thread, not by the asker."""
    return and_(
        A.c.channel_id == Q.c.channel_id,
        A.c.thread_id == Q.c.message_id,
        A.c.kind == "reply",
        A.c.member_id != Q.c.asker_id,
    )


def first_responses(period: Period) -> Subquery:
    """Per question asked in the period: the first reply in its thread by someone other than
    the asker."""
    return (
        select(Q.c.id.label("question_id"), func.min(A.c.ts).label("first_ts"))
        .select_from(Q.join(A, responds_to_question()))
        .where(in_period(Q.c.asked_at, period), human(A.c.member_id))
        .group_by(Q.c.id)
        .subquery()
    )


def first_responders(period: Period) -> Subquery:
    """Per question asked in the period: who gave its first response (`first_responses`;
    of two replies at the same instant, the member with the lower id)."""
    first = first_responses(period)
    return (
        select(first.c.question_id, func.min(A.c.member_id).label("responder_id"))
        .select_from(
            first.join(Q, Q.c.id == first.c.question_id).join(
                A, and_(responds_to_question(), A.c.ts == first.c.first_ts)
            )
        )
        .where(human(A.c.member_id))
        .group_by(first.c.question_id)
        .subquery()
    )


def prompt_replies(*runs: ColumnElement) -> Subquery:
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


def same(field: str, value: str | None) -> str | None:
    return value


# Translators: in the workbook, a city or organisation that was not given ("unknown 2").
UNKNOWN = _("unknown")


def tally(pairs, shown=same, field: str = "", language: str = ENGLISH) -> str:
    """`[("Nairobi", 3), ("Seoul", 1)]` as "Nairobi 3, Seoul 1", most first; `shown(field,
    value)` may replace values first (pseudonymous reports group rare ones as "other"); a
    value not given is "unknown" in `language`."""
    counts: dict[str, int] = {}
    unknown = render(UNKNOWN, language)
    for value, n in pairs:
        name = shown(field, value)
        key = (name or "").strip() or unknown
        counts[key] = counts.get(key, 0) + n
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))
    return ", ".join(f"{name} {n}" for name, n in ordered)
