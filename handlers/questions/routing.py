"""Who is asked about a question: experts who offer a matching topic, ranked by how well they
match, then by fewest open questions, then by who was asked least recently. The asker, bots
and members who are away are never asked."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import topics
from bot.expertise import OFFERS
from bot.models import Expertise, Member, Question, QuestionExpert, QuestionTopic, Topic

OPEN = "open"
ASKED = "asked"
NEVER = datetime.min.replace(tzinfo=UTC)


def available(now: datetime):
    """Members who are not away at `now` (an `away until` date that has come counts as back)."""
    return or_(
        Member.is_away.is_(False),
        and_(Member.away_until.is_not(None), Member.away_until <= now),
    )


async def topic_scores(session: AsyncSession, question: Question) -> dict[int, float]:
    """How well each of the question's topics matches it: topics named by the asker count in
    full, those found in its text by how they were found."""
    ids = set(
        await session.scalars(
            select(QuestionTopic.topic_id).where(QuestionTopic.question_id == question.id)
        )
    )
    if not ids:
        return {}
    rows = (
        await session.execute(select(Topic.id, Topic.name, Topic.keywords).where(Topic.id.in_(ids)))
    ).all()
    found = {s.topic.id: s.score for s in topics.mentioned_in(rows, question.text)}
    return {topic_id: found.get(topic_id, 1.0) for topic_id in ids}


async def rank(
    session: AsyncSession,
    scores: Mapping[int, float],
    asker_id: int,
    now: datetime,
    exclude: Collection[int] = (),
    limit: int | None = None,
) -> list[int]:
    """Member ids of the experts to ask, best first."""
    if not scores:
        return []
    conditions = [
        Expertise.topic_id.in_(list(scores)),
        Expertise.kind == OFFERS,
        Member.id != asker_id,
        Member.is_bot.is_(False),
        available(now),
    ]
    if exclude:
        conditions.append(Expertise.member_id.not_in(list(exclude)))
    weight = func.sum(case({t: float(v) for t, v in scores.items()}, value=Expertise.topic_id))
    match: dict[int, float] = dict(
        (
            await session.execute(
                select(Expertise.member_id, weight)
                .join(Member, Member.id == Expertise.member_id)
                .where(*conditions)
                .group_by(Expertise.member_id)
            )
        ).all()
    )
    if not match:
        return []
    ids = _contenders(match, limit)
    load: dict[int, tuple[int, datetime]] = {}
    for start in range(0, len(ids), 900):
        rows = await session.execute(
            select(
                QuestionExpert.member_id,
                func.count(
                    case((and_(QuestionExpert.status == ASKED, Question.status == OPEN), 1))
                ),
                func.max(QuestionExpert.notified_at),
            )
            .join(Question, Question.id == QuestionExpert.question_id)
            .where(QuestionExpert.member_id.in_(ids[start : start + 900]))
            .group_by(QuestionExpert.member_id)
        )
        load.update({member_id: (count, last) for member_id, count, last in rows})

    def order(member_id: int) -> tuple:
        count, last = load.get(member_id, (0, None))
        return (-match[member_id], count, last or NEVER, member_id)

    ranked = sorted(ids, key=order)
    return ranked if limit is None else ranked[:limit]


def _contenders(match: dict[int, float], limit: int | None) -> list[int]:
    """The members who can make the first `limit`: everyone in the best match groups until
    `limit` are covered (load and recency only order members who match equally well)."""
    if limit is None:
        return list(match)
    chosen: list[int] = []
    for score in sorted(set(match.values()), reverse=True):
        if len(chosen) >= limit:
            break
        chosen.extend(member_id for member_id, value in match.items() if value == score)
    return chosen
