"""Who learns from whom, city by city: the exchanges between members in a period (for the
Connections sheet and the "cities connected" figure) and the credited answers by the cities
of who answered and who asked (for the share of answers that crossed a city line)."""

from __future__ import annotations

from sqlalchemy import Connection, String, and_, case, cast, func, literal, or_, select, union
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from bot.models import IntroMember
from handlers.reports.period import Period
from handlers.reports.queries.common import A, M, Q, first_responders, human, in_period

IM = IntroMember.__table__
CityPairs = list[tuple[str, str, int]]


def _thread(question=Q) -> ColumnElement:
    """A question's thread: its root message (a question never posted gets a key of its
    own, so it is one conversation)."""
    return case(
        (question.c.message_id == "", literal("question ").concat(cast(question.c.id, String))),
        else_=question.c.message_id,
    )


def _no_city() -> ColumnElement:
    return literal(None, String)


def exchanges(conn: Connection, period: Period) -> CityPairs:
    """(helper's city, helped's city, exchanges) for the period, as the cities are written
    (members without one left out). An exchange is one member helping another in one
    conversation: the credited answer of a question solved in the period, the first
    response to a question asked in it, a reply in it in a thread another member started
    (counted once per helper, helped and thread whichever of these it was), or an
    introduction whose pair met (a yes from either, the first given in the period), once
    in each direction. Introductions use the city each member had when introduced."""
    thread = _thread()
    credited = select(
        literal("thread").label("kind"), Q.c.solved_by.label("helper"),
        Q.c.asker_id.label("helped"), Q.c.channel_id.label("place"), thread.label("thread"),
        _no_city().label("helper_city"), _no_city().label("helped_city"),
    ).where(
        in_period(Q.c.solved_at, period), Q.c.solved_by.is_not(None),
        Q.c.solved_by != Q.c.asker_id,
    )  # fmt: skip
    first = first_responders(period)
    responded = select(
        literal("thread"), first.c.responder_id, Q.c.asker_id, Q.c.channel_id, thread,
        _no_city(), _no_city(),
    ).select_from(first.join(Q, Q.c.id == first.c.question_id))  # fmt: skip
    root = aliased(A)
    roots = union(
        select(root.c.channel_id, root.c.message_id.label("root"), root.c.member_id.label("author"))
        .where(root.c.kind == "message", root.c.message_id.is_not(None)),
        select(Q.c.channel_id, Q.c.message_id, Q.c.asker_id).where(Q.c.message_id != ""),
    ).subquery()  # fmt: skip
    replied = (
        select(
            literal("thread"), A.c.member_id, roots.c.author, A.c.channel_id, A.c.thread_id,
            _no_city(), _no_city(),
        )
        .select_from(
            A.join(roots, and_(roots.c.channel_id == A.c.channel_id, roots.c.root == A.c.thread_id))
        )
        .where(
            A.c.kind == "reply", in_period(A.c.ts, period), A.c.member_id != roots.c.author,
            human(A.c.member_id),
        )
    )  # fmt: skip
    one, other = IM.alias("one"), IM.alias("other")
    first_yes = case(
        (
            and_(
                one.c.met.is_(True),
                or_(other.c.met.is_not(True), one.c.answered_at <= other.c.answered_at),
            ),
            one.c.answered_at,
        ),
        else_=case((other.c.met.is_(True), other.c.answered_at)),
    )
    met = select(
        literal("introduction"), one.c.member_id, other.c.member_id, one.c.group_id,
        literal(""), one.c.city, other.c.city,
    ).select_from(
        one.join(other, and_(other.c.group_id == one.c.group_id,
                             other.c.member_id != one.c.member_id))
    ).where(in_period(first_yes, period))  # fmt: skip
    every = union(credited, responded, replied, met).subquery()
    helper, helped = M.alias("helper"), M.alias("helped")
    helper_city = func.coalesce(every.c.helper_city, helper.c.city)
    helped_city = func.coalesce(every.c.helped_city, helped.c.city)
    return list(
        conn.execute(
            select(helper_city, helped_city, func.count())
            .select_from(
                every.join(helper, helper.c.id == every.c.helper).join(
                    helped, helped.c.id == every.c.helped
                )
            )
            .where(
                helper.c.is_bot.is_(False), helped.c.is_bot.is_(False),
                helper_city.is_not(None), helped_city.is_not(None),
            )
            .group_by(helper_city, helped_city)
        )
    )  # fmt: skip


def answer_cities(conn: Connection, period: Period) -> CityPairs:
    """(answerer's city, asker's city, answers) over the credited answers of the questions
    solved in the period, between members who both gave a city."""
    answerer, asker = M.alias("answerer"), M.alias("asker")
    return list(
        conn.execute(
            select(answerer.c.city, asker.c.city, func.count())
            .select_from(
                Q.join(answerer, answerer.c.id == Q.c.solved_by).join(
                    asker, asker.c.id == Q.c.asker_id
                )
            )
            .where(
                in_period(Q.c.solved_at, period), Q.c.solved_by != Q.c.asker_id,
                answerer.c.is_bot.is_(False), asker.c.is_bot.is_(False),
                answerer.c.city.is_not(None), asker.c.city.is_not(None),
            )
            .group_by(answerer.c.city, asker.c.city)
        )
    )  # fmt: skip
