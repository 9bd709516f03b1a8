"""The library's offer before anyone is asked: entries that may already answer a new question
are shown in its thread and the question is held for `HOLD`; the asker says one answers it
(`solved <id> entry <number>`) or routes it now (`route <id>`), and the questions job routes
it when the hold has passed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot import roles
from bot.claims import Sender
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _, lines, n_
from bot.models import Question, QuestionTopic, Topic
from bot.types import Action
from handlers import knowledge
from handlers.questions import telling
from handlers.questions.service import OPEN, Where, actions, get, not_open, where_is

HOLD = timedelta(minutes=10)  # a question the library may answer waits this long for experts


async def offer(
    ctx: Services, question: Question, where: Where, asker: str, heading: Message
) -> Message | None:
    """Show the entries that may already answer the question in its thread and hold it for
    `HOLD`: what was done, in a sentence; None when the library has nothing to offer."""
    async with ctx.db() as session:
        hits = await session.run_sync(knowledge.similar, question.text)
        await knowledge.shown(session, hits)
        if hits:
            await session.execute(
                update(Question)
                .where(Question.id == question.id)
                .values(held_until=question.asked_at + HOLD)
            )
        await session.commit()
    if not hits:
        return None
    said: list[Message] = [heading, _("The library may already answer this:")]
    for hit in hits:
        entry = hit.entry
        link = await knowledge.link(ctx, entry)
        if link:
            said.append(_("• #{id} {title} — {excerpt} · {link}", id=entry.id,
                          title=entry.title, excerpt=hit.excerpt, link=link))  # fmt: skip
        else:
            said.append(_("• #{id} {title} — {excerpt} · #{id}", id=entry.id,
                          title=entry.title, excerpt=hit.excerpt))  # fmt: skip
    minutes = int(HOLD.total_seconds() // 60)
    said.append(n_(
        "{asker}: if one answers it, type `solved {id} entry <number>`; otherwise `route {id}` "
        "asks members who know the topic now, and I will in {n} minute anyway.",
        "{asker}: if one answers it, type `solved {id} entry <number>`; otherwise `route {id}` "
        "asks members who know the topic now, and I will in {n} minutes anyway.",
        minutes, asker=asker, id=question.id,
    ))  # fmt: skip
    buttons = [
        Action(_("#{id} answers it", id=hit.entry.id), f"solved {question.id} entry {hit.entry.id}")
        for hit in hits
    ] + [Action(_("Ask the experts"), f"route {question.id}")]
    await ctx.platforms[where.channel.platform].send(
        where.channel, lines(*said), thread_id=where.message_id, actions=buttons
    )
    return n_("The library may already answer it; I'll ask the experts in {n} minute if not.",
              "The library may already answer it; I'll ask the experts in {n} minutes if not.",
              minutes)  # fmt: skip


async def release(ctx: Services, question_id: int, sender: Sender | None) -> Message:
    """Route a question held for the library's answer now (`route`, or the job when the hold
    has passed)."""
    async with ctx.db() as session:
        question = await get(session, question_id)
        if (
            sender is not None
            and question.asker_id != sender.member_id
            and (roles.FACILITATOR not in sender.roles)
        ):
            raise CommandError(
                _("Only the person who asked #{id} or a facilitator can route it.", id=question_id)
            )
        if question.status != OPEN:
            raise CommandError(not_open(question))
        claimed = await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.held_until.is_not(None))
            .values(held_until=None)
        )
        names = ", ".join(
            await session.scalars(
                select(Topic.name)
                .join(QuestionTopic, QuestionTopic.topic_id == Topic.id)
                .where(QuestionTopic.question_id == question_id)
                .order_by(Topic.name)
            )
        )
        where = await where_is(session, question)
        await session.commit()
    if claimed.rowcount != 1:
        raise CommandError(_("Question #{id} is already with the experts.", id=question_id))
    routed = await telling.route(ctx, question, where, names)
    if where.channel.platform in ctx.platforms:
        await ctx.platforms[where.channel.platform].send(
            where.channel,
            lines(routed, _("Anyone can answer in this thread."), sep=" "),
            thread_id=where.message_id,
            actions=actions(question_id),
        )
    return routed


async def release_held(ctx: Services) -> int:
    """The job: route every question whose hold for the library's answer has passed."""
    async with ctx.db() as session:
        due = list(
            await session.scalars(
                select(Question.id).where(
                    Question.status == OPEN,
                    Question.held_until.is_not(None),
                    Question.held_until <= ctx.now(),
                )
            )
        )
    released = 0
    for question_id in due:
        try:
            await release(ctx, question_id, None)
            released += 1
        except CommandError:
            continue  # released meanwhile by the asker or another process
    return released
