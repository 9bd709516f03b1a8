"""Withdrawing a question (`withdraw <id>`, or the button on the message that tells a member
their message went to the experts): by its asker or a facilitator. Nobody more is asked
about it; the members already asked are told they need not answer (they were asked for
their time, so they hear it is no longer wanted), the asker is told when a facilitator
withdrew it, and its thread says so. A withdrawn question cannot be solved, routed or
declined; replies in its thread stay where they are."""

from __future__ import annotations

from sqlalchemy import select, update

from bot import home, outbox, roles
from bot.claims import Sender
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _, n_
from bot.models import Member, Question, QuestionExpert
from bot.watch import post_key
from handlers.questions.service import (
    ASKED,
    FACILITATOR,
    OPEN,
    THREADS,
    WITHDRAWN,
    get,
    name_of,
    not_open,
    where_is,
)
from handlers.questions.telling import subject


async def withdraw(ctx: Services, question_id: int, sender: Sender) -> Message:
    """Withdraw an open question; what was done, for whoever withdrew it."""
    async with ctx.db() as session:
        question = await get(session, question_id)
        by_asker = question.asker_id == sender.member_id
        if not by_asker and roles.FACILITATOR not in sender.roles:
            raise CommandError(_("Only the person who asked #{id} or a facilitator can withdraw "
                                 "it.", id=question_id))  # fmt: skip
        if question.status != OPEN:
            raise CommandError(not_open(question))
        result = await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.status == OPEN)
            .values(status=WITHDRAWN, held_until=None)
        )
        if result.rowcount != 1:
            await session.refresh(question)
            raise CommandError(not_open(question))
        asked = list(
            await session.scalars(
                select(QuestionExpert.member_id).where(
                    QuestionExpert.question_id == question_id,
                    QuestionExpert.status.in_((ASKED, FACILITATOR)),
                    QuestionExpert.member_id != sender.member_id,
                )
            )
        )
        asker = name_of(await session.get(Member, question.asker_id))
        where = await where_is(session, question)
        platform = where.channel.platform
        for member_id in asked:
            await outbox.dm(
                ctx, subject(question_id), WITHDRAWN, member_id,
                _("Question #{id} from {name} was withdrawn: no need to answer it. Thank you "
                  "for your time.", id=question_id, name=asker),
                platform, session=session,
            )  # fmt: skip
        if not by_asker:
            await outbox.dm(
                ctx, subject(question_id), WITHDRAWN, question.asker_id,
                _("A facilitator withdrew your question #{id}: I won't ask anyone more about "
                  "it.", id=question_id),
                platform, session=session,
            )  # fmt: skip
        if where.message_id:
            said = (
                _("Question #{id} was withdrawn by {name}, who asked it: I've stopped asking "
                  "members about it. Replies here are still welcome.", id=question_id,
                  name=asker)
                if by_asker
                else _("Question #{id} was withdrawn by a facilitator: I've stopped asking "
                       "members about it. Replies here are still welcome.", id=question_id)
            )  # fmt: skip
            await outbox.post(
                ctx, subject(question_id), WITHDRAWN, where.channel, said, where.message_id,
                session=session,
            )  # fmt: skip
        await home.changed(session, [question.asker_id, *asked])
        await session.commit()
    if where.message_id:
        ctx.unwatch(THREADS, platform, post_key(where.channel.id, where.message_id))
    if not asked:
        return _("Withdrew question #{id}; nobody had been asked about it yet.", id=question_id)
    return n_("Withdrew question #{id}; I've told the member who was asked about it.",
              "Withdrew question #{id}; I've told the {n} members who were asked about it.",
              len(asked), id=question_id)  # fmt: skip
