"""Passing a question on: an expert declines (`decline`), and questions with no response after
the SLA go to more experts, then after twice the SLA to the facilitators."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from bot import notices
from bot.claims import Sender
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, Number, _
from bot.models import Question, QuestionExpert
from handlers.questions.service import (
    ASKED,
    DECLINED,
    FACILITATOR_ROUND,
    NOT_MY_TOPIC,
    OPEN,
    SECOND_ROUND,
    SOLVED,
    WITHDRAWN,
    Where,
    get,
    not_open,
    where_is,
)
from handlers.questions.telling import tell_experts, tell_facilitators

log = logging.getLogger(__name__)


async def decline(ctx: Services, question_id: int, sender: Sender, not_my_topic: bool) -> Message:
    async with ctx.db() as session:
        question = await get(session, question_id)
        row = await session.get(QuestionExpert, (question_id, sender.member_id))
        if row is None or row.status not in (ASKED, DECLINED, NOT_MY_TOPIC):
            raise CommandError(_("You weren't asked about question #{id}.", id=question_id))
        if row.status != ASKED:
            raise CommandError(_("You have already passed on question #{id}.", id=question_id))
        if question.status == WITHDRAWN:
            raise CommandError(not_open(question))
        if question.status == SOLVED:
            raise CommandError(
                _("Question #{id} is already solved; thank you anyway.", id=question_id)
            )
        await session.execute(
            update(QuestionExpert)
            .where(
                QuestionExpert.question_id == question_id,
                QuestionExpert.member_id == sender.member_id,
                QuestionExpert.status == ASKED,
            )
            .values(status=NOT_MY_TOPIC if not_my_topic else DECLINED)
        )
        where = await where_is(session, question)
        round_ = row.round
        await session.commit()
    if await tell_experts(ctx, question, where, round_, 1):
        return _("Thanks for letting me know: I've passed question #{id} to another expert.",
                 id=question_id)  # fmt: skip
    if await tell_facilitators(
        ctx, question, where, FACILITATOR_ROUND, reason=_("Every expert asked has passed.")
    ):
        return _("Thanks: no other expert offers that topic, so I've told the facilitators "
                 "about #{id}.", id=question_id)  # fmt: skip
    return _("Thanks for letting me know about question #{id}.", id=question_id)


# escalation -----------------------------------------------------------------------------


async def escalate(ctx: Services) -> int:
    """Questions with no response after the SLA go to more experts; after twice the SLA to the
    facilitators. Each step is claimed on the question's row, so it happens once across
    processes; a step whose telling fails is given back and tried at the next run."""
    sla = timedelta(hours=ctx.settings.question_sla_hours)
    now = ctx.now()
    async with ctx.db() as session:
        due = (
            await session.scalars(
                select(Question)
                .where(
                    Question.status == OPEN,
                    Question.first_response_at.is_(None),
                    Question.escalations < 2,
                    Question.asked_at <= now - sla,
                )
                .order_by(Question.asked_at)
                .limit(500)
            )
        ).all()
    steps = 0
    for question in due:
        level = 2 if question.asked_at <= now - 2 * sla else 1
        for step in range(question.escalations + 1, level + 1):
            steps += await _escalate_once(ctx, question, step)
    return steps


async def _escalate_once(ctx: Services, question: Question, step: int) -> bool:
    """Claim the step on the question's row, then tell (queue the messages in the outbox);
    the step is given back if queueing fails, for the next run."""

    async def claim() -> tuple[Where, int] | None:
        async with ctx.db() as session:
            claimed = await session.execute(
                update(Question)
                .where(
                    Question.id == question.id,
                    Question.escalations == step - 1,
                    Question.first_response_at.is_(None),
                    Question.status == OPEN,
                )
                .values(escalations=step, last_escalated_at=ctx.now())
            )
            where = await where_is(session, question)
            earlier = await session.scalar(
                select(func.count())
                .select_from(QuestionExpert)
                .where(
                    QuestionExpert.question_id == question.id,
                    QuestionExpert.round == SECOND_ROUND,
                )
            )
            await session.commit()
        return (where, earlier or 0) if claimed.rowcount == 1 else None

    async def tell(claimed: tuple[Where, int]) -> None:
        where, earlier = claimed
        if step == 1:
            count = ctx.settings.experts_per_question - earlier
            await tell_experts(ctx, question, where, SECOND_ROUND, count)
        else:
            hours = ctx.settings.question_sla_hours * 2
            await tell_facilitators(
                ctx,
                question,
                where,
                FACILITATOR_ROUND,
                reason=_("No answer after {hours} hours.", hours=_hours(hours)),
            )

    escalated, _told = await notices.claim_then_send(
        claim, tell, lambda _claimed: _unclaim(ctx, question.id, step)
    )
    if escalated:
        log.info("question #%s escalated (step %s)", question.id, step)
    return escalated


def _hours(hours: float) -> Number:
    """Hours as the code always wrote them (`48`, `1.5`), in the reader's conventions."""
    return Number(hours, len(format(hours, "g").partition(".")[2]))


async def _unclaim(ctx: Services, question_id: int, step: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.escalations == step)
            .values(escalations=step - 1)
        )
        await session.commit()
