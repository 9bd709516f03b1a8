"""Telling people about a question by direct message: the experts best ranked for its topics,
or the facilitators when nobody offers them.

Everyone told has a row in `question_experts`, written in the transaction that queues their
message in the outbox (`bot.outbox`, which delivers it once, paced): nobody is told twice
about one question, whichever process or restart tells them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from bot import home, outbox, roles
from bot.commands import excerpt
from bot.context import Services
from bot.db import upsert
from bot.i18n import Message, _, lines, n_
from bot.models import Member, Question, QuestionExpert
from bot.types import Action
from handlers.questions import routing
from handlers.questions.service import (
    ASKED,
    FACILITATOR,
    FIRST_ROUND,
    Where,
    actions,
    link_to,
    name_of,
)

log = logging.getLogger(__name__)


async def route(ctx: Services, question: Question, where: Where, names: str) -> Message:
    """Ask the first experts (or tell the facilitators when there are none); what was done,
    in a sentence. `names` are the question's topics, separated by commas."""
    experts = await tell_experts(
        ctx, question, where, FIRST_ROUND, ctx.settings.experts_per_question
    )
    if experts and names:
        return n_("I've asked a member who knows {names}.",
                  "I've asked {n} members who know {names}.",
                  len(experts), names=names)  # fmt: skip
    if experts:
        return n_("I've asked a member who knows it.", "I've asked {n} members who know it.",
                  len(experts))  # fmt: skip
    await tell_facilitators(ctx, question, where, FIRST_ROUND, reason=_no_expert(names))
    if names:
        return _("Nobody offers {names} yet, so I've told the facilitators.", names=names)
    return _("I couldn't tell its topic, so I've told the facilitators.")


def _no_expert(names: str) -> Message:
    if names:
        return _("Nobody offers {names} yet.", names=names)
    return _("I couldn't tell which topic it is about.")


async def tell_experts(
    ctx: Services, question: Question, where: Where, round_: int, count: int
) -> list[int]:
    """Ask up to `count` more experts, best ranked first, skipping anyone already told."""
    reached: list[int] = []
    tried: set[int] = set()
    text = None
    while len(reached) < count:
        async with ctx.db() as session:
            scores = await routing.topic_scores(session, question)
            told = set(
                await session.scalars(
                    select(QuestionExpert.member_id).where(
                        QuestionExpert.question_id == question.id
                    )
                )
            )
            ranked = await routing.rank(
                session, scores, question.asker_id, ctx.now(), exclude=told | tried,
                limit=count - len(reached),
            )  # fmt: skip
            if text is None and ranked:
                text = await _expert_message(
                    ctx, question, where, await session.get(Member, question.asker_id)
                )
        if not ranked:
            break
        for member_id in ranked:
            tried.add(member_id)
            buttons = actions(question.id)[1:]
            assert text is not None  # written with the first ranked expert
            if await _tell(ctx, question, member_id, round_, ASKED, text, buttons, where):
                reached.append(member_id)
    return reached


async def tell_facilitators(
    ctx: Services, question: Question, where: Where, round_: int, reason: Message
) -> list[int]:
    """Tell every facilitator but the asker, with `reason` first; the ids of those reached."""
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
        asker = await session.get(Member, question.asker_id)
    link = await link_to(ctx, where)
    text = lines(
        lines(
            reason,
            _("Question #{id} from {name} in {channel} needs someone:", id=question.id,
              name=name_of(asker), channel=where.channel.name or where.channel.id),
            sep=" ",
        ),
        _("> {question}", question=excerpt(question.text, 300)),
        _("Thread: {link}", link=link) if link else None,
        _("You can answer in its thread, or point an expert to it."),
    )  # fmt: skip
    reached = []
    for member in facilitators:
        if member.id == question.asker_id:
            continue
        if await _tell(ctx, question, member.id, round_, FACILITATOR, text, (), where):
            reached.append(member.id)
    if not reached:
        log.warning("question #%s: no facilitator to tell (%s)", question.id, reason)
    return reached


async def _expert_message(
    ctx: Services, question: Question, where: Where, asker: Member | None
) -> Message:
    link = await link_to(ctx, where)
    return lines(
        _("{name} asked a question you may know about (#{id}, in {channel}):",
          name=name_of(asker), id=question.id, channel=where.channel.name or where.channel.id),
        _("> {question}", question=excerpt(question.text, 500)),
        _("Open the thread: {link}", link=link) if link else None,
        _("Answer in the question's thread. Can't help? `decline {id}`. "
          "Not your topic? `decline {id} not my topic`.", id=question.id),
    )  # fmt: skip


async def _tell(
    ctx: Services,
    question: Question,
    member_id: int,
    round_: int,
    status: str,
    text: Message,
    buttons: Sequence[Action],
    where: Where,
) -> bool:
    """Claim the (question, member) row and queue the message in one transaction. False if
    someone else told them already or they have no account on a running platform (then
    nothing is kept, and the next expert is asked)."""
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, QuestionExpert)
            .values(
                question_id=question.id,
                member_id=member_id,
                notified_at=ctx.now(),
                status=status,
                round=round_,
            )
            .on_conflict_do_nothing()
            .returning(QuestionExpert.member_id)
        )
        if claimed is None:
            return False
        if not await outbox.dm(
            ctx, subject(question.id), status, member_id, text, where.channel.platform,
            buttons, session, skip_unreachable=True,
        ):  # fmt: skip
            log.warning("question #%s: member %s has no account on a running platform",
                        question.id, member_id)  # fmt: skip
            await session.rollback()
            return False
        await home.changed(session, [member_id])
        await session.commit()
    return True


def subject(question_id: int) -> str:
    """The outbox subject of what is told about a question."""
    return f"question:{question_id}"
