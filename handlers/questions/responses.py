"""First responses: the earliest reply in an open question's thread by someone other than
the asker, found in the activity log, noted once, and the asker told who answered."""

from __future__ import annotations

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased

from bot import home, outbox
from bot.context import Services
from bot.i18n import Message, _, lines
from bot.models import Activity, Member, Question
from handlers.questions import telling
from handlers.questions.service import OPEN, name_of, where_is


async def note_first_responses(
    ctx: Services, question_id: int | None = None, tell: bool = True
) -> int:
    """Find first responses in the activity log: the earliest reply in an open question's
    thread by someone other than the asker (bots are never logged). Each is noted once
    (whichever process gets there first) and the asker is told who answered. Nothing runs
    per message: the questions job calls this, and so do the commands that show or close a
    question, after the log has caught up. With `tell=False` (the question is being solved)
    the asker is not told."""
    await ctx.activity.persisted()
    reply = aliased(Activity)
    answers = (
        select(Question.id, func.min(reply.ts))
        .join(
            reply,
            and_(
                reply.channel_id == Question.channel_id,
                reply.thread_id == Question.message_id,
                reply.kind == "reply",
                reply.member_id != Question.asker_id,
            ),
        )
        .where(
            Question.status == OPEN,
            Question.first_response_at.is_(None),
            Question.message_id != "",
        )
        .group_by(Question.id)
    )
    if question_id is not None:
        answers = answers.where(Question.id == question_id)
    async with ctx.db() as session:
        found = (await session.execute(answers)).all()
    noted = 0
    for found_id, first_ts in found:
        noted += await _first_response(ctx, found_id, first_ts, tell)
    return noted


async def _first_response(ctx: Services, question_id: int, first_ts, tell: bool) -> bool:
    """Note the first response and queue the asker's message in one transaction (the link
    to the thread is asked of the platform first, outside it)."""
    async with ctx.db() as session:
        question = await session.get(Question, question_id)
        if question is None or question.first_response_at is not None:
            return False
        where = await where_is(session, question)
    platform = ctx.platforms.get(where.channel.platform) if tell else None
    link = await platform.permalink(where.channel, where.message_id) if platform else None
    async with ctx.db() as session:
        responder = await session.scalar(
            select(Activity.member_id)
            .where(
                Activity.channel_id == question.channel_id,
                Activity.thread_id == question.message_id,
                Activity.kind == "reply",
                Activity.member_id != question.asker_id,
                Activity.ts == first_ts,
            )
            .limit(1)
        )
        result = await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.first_response_at.is_(None))
            .values(first_response_at=first_ts, first_responder_id=responder)
        )
        if result.rowcount != 1:
            return False
        if tell:
            who = await session.get(Member, responder) if responder else None
            await outbox.dm(
                ctx,
                telling.subject(question_id),
                "answered",
                question.asker_id,
                _answered(name_of(who), question_id, link),
                where.channel.platform,
                session=session,
            )
        await home.changed(session, [question.asker_id])
        await session.commit()
    return True


def _answered(name: Message, question_id: int, link: str | None) -> Message:
    """The asker's message: who answered, and how to say it is solved."""
    return lines(
        _("{name} answered your question #{id}: {link}", name=name, id=question_id, link=link)
        if link
        else _("{name} answered your question #{id} in its thread.", name=name, id=question_id),
        _("If that solves it, type `solved {id}` or react ✅ to the question.", id=question_id),
    )
