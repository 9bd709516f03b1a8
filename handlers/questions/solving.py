"""Solving a question: by its asker or a facilitator, crediting a member or the library entry
that answered it; the solved question and the answers in its thread are kept in the library."""

from __future__ import annotations

import logging

from sqlalchemy import literal, select, update

from bot import home, roles
from bot.claims import Sender
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _, lines
from bot.models import KnowledgeEntry, Member, Question, QuestionExpert, QuestionTopic
from bot.watch import post_key
from handlers import knowledge
from handlers.questions.responses import note_first_responses
from handlers.questions.service import OPEN, SOLVED, THREADS, Where, get, not_open, where_is

log = logging.getLogger(__name__)


async def solve(
    ctx: Services,
    question_id: int,
    sender: Sender,
    credit_id: int | None,
    via: str,
    entry_id: int | None = None,
) -> Message:
    """Mark a question solved, crediting a member (by default the first to answer) or, when
    it was held for the library's answer, the library entry that answered it."""
    async with ctx.db() as session:  # refuse before noting anything
        _may_solve(await get(session, question_id), sender)
        if entry_id is not None and await session.get(KnowledgeEntry, entry_id) is None:
            raise CommandError(_("There is no library entry #{id}.", id=entry_id))
    await note_first_responses(ctx, question_id, tell=False)  # the one to credit by default
    async with ctx.db() as session:
        question = await get(session, question_id)
        _may_solve(question, sender)
        if entry_id is None and credit_id is None and question.held_until is not None:
            top = await session.run_sync(knowledge.similar, question.text, 1)
            entry_id = top[0].entry.id if top else None
        entry = await session.get(KnowledgeEntry, entry_id) if entry_id is not None else None
        if entry_id is not None and entry is None:
            raise CommandError(_("There is no library entry #{id}.", id=entry_id))
        credit = credit_id if credit_id is not None else question.first_responder_id
        if credit == question.asker_id or (entry is not None and credit_id is None):
            credit = None
        result = await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.status == OPEN)
            .values(
                status=SOLVED,
                solved_at=ctx.now(),
                solved_by=credit,
                held_until=None,
                answered_by_entry=entry_id,
            )
        )
        if result.rowcount != 1:
            await session.refresh(question)
            raise CommandError(not_open(question))
        if entry is not None:
            await session.execute(
                update(KnowledgeEntry)
                .where(KnowledgeEntry.id == entry.id)
                .values(answered=KnowledgeEntry.answered + 1)
            )
        helper = await session.get(Member, credit) if credit else None
        where = await where_is(session, question)
        told = select(QuestionExpert.member_id).where(QuestionExpert.question_id == question_id)
        await home.changed(session, told.union(select(literal(question.asker_id))))
        await session.commit()
    if where.message_id:
        ctx.unwatch(THREADS, where.channel.platform, post_key(where.channel.id, where.message_id))
    if entry is not None:
        solved = _("✅ Question #{id} is solved, answered by the library (#{entry} {title}).",
                   id=question_id, entry=entry.id, title=entry.title)  # fmt: skip
        marked = _("Marked question #{id} solved, answered by the library (#{entry} {title}).",
                   id=question_id, entry=entry.id, title=entry.title)  # fmt: skip
    elif helper:
        solved = _("✅ Question #{id} is solved, thanks to {name}.", id=question_id,
                   name=helper.display_name)  # fmt: skip
        marked = _("Marked question #{id} solved, thanks to {name}.", id=question_id,
                   name=helper.display_name)  # fmt: skip
    else:
        solved = _("✅ Question #{id} is solved.", id=question_id)
        marked = _("Marked question #{id} solved.", id=question_id)
    log.info("question #%s solved by %s (%s)", question_id, sender.member_id, via)
    kept = await keep_in_library(ctx, question, where)
    library_note = (
        _("The question and the answers in this thread are now kept in the library, with "
          "your names, so that others find them with `search`.")
        if kept
        else None
    )  # fmt: skip
    if where.message_id and where.channel.platform in ctx.platforms:
        await ctx.platforms[where.channel.platform].send(
            where.channel, lines(solved, library_note, sep=" "), thread_id=where.message_id
        )
    return marked


def _may_solve(question: Question, sender: Sender) -> None:
    if question.asker_id != sender.member_id and roles.FACILITATOR not in sender.roles:
        raise CommandError(
            _("Only the person who asked #{id} or a facilitator can mark it solved.",
              id=question.id)
        )  # fmt: skip
    if question.status != OPEN:
        raise CommandError(not_open(question))


async def keep_in_library(ctx: Services, question: Question, where: Where) -> bool:
    """Keep a solved question and the answers in its thread in the library (`knowledge`),
    with their authors and a link to the thread. False when there was no answer to keep, or
    the thread could not be read."""
    if not where.message_id or where.channel.platform not in ctx.platforms:
        return False
    try:
        answers = await knowledge.answers(
            ctx, where.channel, where.message_id, author_id=question.asker_id
        )
    except knowledge.Unreadable as exc:
        log.warning("question #%s: could not read its thread to keep it: %s", question.id, exc)
        return False
    if not answers:
        return False
    async with ctx.db() as session:
        topic_ids = list(
            await session.scalars(
                select(QuestionTopic.topic_id).where(QuestionTopic.question_id == question.id)
            )
        )
    await knowledge.keep(
        ctx, where.channel, where.message_id, question.text, answers,
        author_id=question.asker_id, topic_ids=topic_ids, question_id=question.id,
        channel_id=question.channel_id,
    )  # fmt: skip
    return True
