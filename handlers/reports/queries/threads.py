"""Questions and discussion prompts, answered by replies in their threads: response times
and prompt figures for the Summary, the Questions and Prompts sheets."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, distinct, func, select

from bot.models import Channel, QuestionExpert, QuestionTopic, Topic
from handlers.reports.period import Period
from handlers.reports.queries.common import (
    M,
    P,
    Q,
    first_responses,
    human,
    in_period,
    joined_list,
    prompt_replies,
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
    first = first_responses(period)
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


def prompt_figures(conn: Connection, period: Period) -> dict[str, int]:
    """Prompt runs posted in the period, replies in their threads, unique responders."""
    posted = in_period(P.c.posted_at, period)
    responses = prompt_replies(posted)
    runs = select(P.c.id).where(posted)
    row = conn.execute(
        select(func.count(), func.count(distinct(responses.c.member_id))).select_from(responses)
    ).one()
    return {
        "runs": conn.scalar(select(func.count()).select_from(runs.subquery())),
        "responses": row[0],
        "responders": row[1],
    }


def questions(conn: Connection, period: Period) -> Iterator[tuple]:
    first = first_responses(period)
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
    responses = prompt_replies()
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
