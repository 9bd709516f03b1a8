"""Solving a question: by its asker or a facilitator, crediting a member or the library entry
that answered it; the solved question and the answers in its thread are kept in the library."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update

from bot import members, roles
from bot.claims import Sender
from bot.commands import excerpt
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _, lines
from bot.models import KnowledgeEntry, Member, Question, QuestionTopic
from bot.watch import post_key
from handlers import knowledge
from handlers.questions.responses import note_first_responses
from handlers.questions.service import OPEN, SOLVED, THREADS, Where, get, where_is

log = logging.getLogger(__name__)

THREAD_SECONDS = 30


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
            raise CommandError(_("Question #{id} is already solved.", id=question_id))
        if entry is not None:
            await session.execute(
                update(KnowledgeEntry)
                .where(KnowledgeEntry.id == entry.id)
                .values(answered=KnowledgeEntry.answered + 1)
            )
        helper = await session.get(Member, credit) if credit else None
        where = await where_is(session, question)
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
    if question.status == SOLVED:
        raise CommandError(_("Question #{id} is already solved.", id=question.id))


async def keep_in_library(ctx: Services, question: Question, where: Where) -> bool:
    """Keep a solved question and the answers in its thread (the replies by others than the
    asker, as they stand now: edits applied, deleted ones gone) as a knowledge entry, with
    their authors and a link to the thread. The one place message text is kept whatever
    CONVENER_STORE_MESSAGE_TEXT says. False when there was no answer to keep."""
    if not where.message_id or where.channel.platform not in ctx.platforms:
        return False
    try:
        async with asyncio.timeout(THREAD_SECONDS):  # Slack allows some apps one read a minute
            replies = await ctx.platforms[where.channel.platform].thread(
                where.channel, where.message_id
            )
    except Exception as exc:
        log.warning("question #%s: could not read its thread to keep it: %s", question.id, exc)
        return False
    async with ctx.db() as session:
        asker_accounts = {
            (u.platform, u.id) for u in await members.platform_users(session, question.asker_id)
        }
        answers = [
            r for r in replies
            if not r.user.is_bot and (r.user.platform, r.user.id) not in asker_accounts
            and r.text.strip()
        ]  # fmt: skip
        if not answers:
            return False
        body = [question.text, ""]
        for reply in answers:
            author = await members.find(session, reply.user)
            name = author.display_name if author else (reply.user.name or reply.user.id)
            body.append(f"{name}: {' '.join(reply.text.split())}")
        topic_ids = list(
            await session.scalars(
                select(QuestionTopic.topic_id).where(QuestionTopic.question_id == question.id)
            )
        )
        await knowledge.add(
            session, title=excerpt(question.text, 200), body="\n".join(body), now=ctx.now(),
            topic_ids=topic_ids, question_id=question.id, channel_id=question.channel_id,
            message_id=question.message_id, created_by=question.asker_id,
            language=await ctx.languages.of_member_id(session, question.asker_id),
        )  # fmt: skip
        await session.commit()
    return True
