"""Questions to experts: asking, telling people, first responses, solving, passing on and
escalating. The commands, listeners and the escalation job call these.

Everyone told about a question has a row in `question_experts`, claimed before the message
is sent and given back if sending fails: nobody is told twice about one question, whichever
process or restart tells them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot import direct, members, roles, topics
from bot.claims import Sender
from bot.commands import excerpt, number
from bot.context import Context
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.models import (
    Activity,
    Channel,
    KnowledgeEntry,
    Member,
    Question,
    QuestionExpert,
    QuestionTopic,
    Topic,
)
from bot.types import Action, ChannelRef
from bot.watch import Watch, post_key
from handlers.knowledge import library
from handlers.questions import routing

log = logging.getLogger(__name__)

MAX_QUESTION = 2000
OPEN, SOLVED = routing.OPEN, "solved"
ASKED, DECLINED, NOT_MY_TOPIC, FACILITATOR = (
    routing.ASKED,
    "declined",
    "not_my_topic",
    "facilitator",
)
FIRST_ROUND, SECOND_ROUND, FACILITATOR_ROUND = 0, 1, 2
THREAD_SECONDS = 30
HOLD = timedelta(minutes=10)  # a question the library may answer waits this long for experts


@dataclass(frozen=True, slots=True)
class Where:
    """Where a question lives: its channel and the id of the message that roots its thread."""

    channel: ChannelRef
    message_id: str


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise UsageError(
            "What is your question? For example: ask How do you phase a tax reassessment?"
        )
    if len(text) > MAX_QUESTION:
        raise CommandError(
            f"That question is {len(text):,} characters long; please keep it under "
            f"{MAX_QUESTION:,} (put the details in the thread once it is posted)."
        )
    return text


def split_named_topics(text: str) -> tuple[str, list[str]]:
    """`question : topic, topic` as (question, topic names); a colon followed by anything that
    does not look like a list of topics belongs to the question."""
    head, colon, tail = text.rpartition(":")
    if not colon or not head.strip() or "?" in tail or not tail.strip():
        return text.strip(), []
    try:
        names = topics.split_names(tail)
    except UsageError:
        return text.strip(), []
    return head.strip(), names


def actions(question_id: int) -> list[Action]:
    return [
        Action("Solved", f"solved {question_id}"),
        Action("I can't help", f"decline {question_id}"),
        Action("Not my topic", f"decline {question_id} not my topic"),
    ]


# asking ---------------------------------------------------------------------------------


async def where_to_post(ctx: Context, channel: ChannelRef) -> ChannelRef:
    """The channel a question asked in `channel` is posted in: that channel, or for a direct
    message the facilitators' questions channel on the same platform."""
    if not channel.is_direct:
        return channel
    wanted = ctx.settings.questions_channel.strip()
    row = None
    if wanted:
        names = {wanted, "#" + wanted.lstrip("#")}
        async with ctx.db() as session:
            row = await session.scalar(
                select(Channel)
                .where(
                    Channel.platform == channel.platform,
                    Channel.is_direct.is_(False),
                    or_(Channel.channel_id == wanted, Channel.name.in_(names)),
                )
                .limit(1)
            )
    if row is None:
        raise CommandError(
            "Questions are posted in a channel so that everyone can learn from the answers. "
            "Ask in a channel (for example `ask How do you ...?` there)"
            + (
                ""
                if wanted
                else ", or a facilitator can choose one with CONVENER_QUESTIONS_CHANNEL"
            )
            + "."
        )
    return ChannelRef(row.platform, row.channel_id, row.name)


async def ask(
    ctx: Context, sender: Sender, asked_in: ChannelRef, body: str, root: str | None = None
) -> str | None:
    """Post a question, route it to experts (or the facilitators), and say so in its thread.
    With `root`, the question is a message already in `asked_in` (an accepted offer) and its
    thread is that message's. Returns the answer for the asker, if they need one beyond the
    thread."""
    text, named = split_named_topics(body)
    text = check_text(text)
    post_in = asked_in if root else await where_to_post(ctx, asked_in)
    now = ctx.now()
    async with ctx.db() as session:
        every_topic = await topics.every_label(session)
        chosen: dict[int, Topic] = {
            s.topic.id: s.topic for s in topics.mentioned_in(every_topic, text)
        }
        unknown = []
        for name in named:
            topic = await topics.find(session, name)
            if topic is None:
                unknown.append(name)
            else:
                chosen[topic.id] = topic
        if named and unknown and len(unknown) == len(named):
            raise CommandError(await topics.unknown(session, unknown[0]))
        channel = await members.resolve_channel(session, post_in)
        question = Question(
            asker_id=sender.member_id,
            channel_id=channel.id,
            message_id="",
            text=text,
            asked_at=now,
            status=OPEN,
        )
        session.add(question)
        await session.flush()
        session.add_all(QuestionTopic(question_id=question.id, topic_id=t) for t in chosen)
        await session.commit()
    name = sender.member.display_name or sender.user.name or sender.user.id
    if root is None:
        try:
            posted = await ctx.platform.send(
                post_in, f"❓ **Question #{question.id}** from {name}:\n{text}"
            )
        except BaseException:
            await asyncio.shield(_forget(ctx, question.id))
            raise
        root = posted.message_id
    async with ctx.db() as session:
        await session.execute(
            update(Question).where(Question.id == question.id).values(message_id=root)
        )
        await session.commit()
    ctx.watch(THREADS, post_in.platform, post_key(post_in.id, root))
    question.message_id = root
    where = Where(post_in, root)
    names = ", ".join(t.name for t in chosen.values())
    skipped = f" (I don't know the topic {', '.join(unknown)}.)" if unknown else ""
    heading = f"Question #{question.id}" + (f" · Topics: {names}" if names else "")
    async with ctx.db() as session:
        suggestions = await session.run_sync(library.similar, text)
        await library.shown(session, suggestions)
        if suggestions:
            await session.execute(
                update(Question).where(Question.id == question.id).values(held_until=now + HOLD)
            )
        await session.commit()
    if suggestions:
        routed = await _offer_library(ctx, question, where, suggestions, name, heading + skipped)
    else:
        routed = await route(ctx, question, where, names)
        await ctx.platform.send(
            post_in,
            f"{heading}\n{routed}{skipped} Anyone can answer in this thread. {name}: when it's "
            f"answered, react ✅ to the question or type `solved {question.id}`.",
            thread_id=root,
            actions=actions(question.id),
        )
    if asked_in.is_direct:
        link = await link_to(ctx, Where(post_in, root))
        return (
            f"Posted your question as #{question.id} in {post_in.name or post_in.id}"
            + (f": {link}" if link else ".")
            + f" {routed}"
        )
    return None


async def route(ctx: Context, question: Question, where: Where, names: str) -> str:
    """Ask the first experts (or tell the facilitators when there are none); what was done,
    in a sentence."""
    experts = await tell_experts(
        ctx, question, where, FIRST_ROUND, ctx.settings.experts_per_question
    )
    if experts:
        who = "a member who knows" if len(experts) == 1 else f"{len(experts)} members who know"
        return f"I've asked {who} {names or 'it'}."
    await tell_facilitators(ctx, question, where, FIRST_ROUND, reason=_no_expert(names))
    if names:
        return f"Nobody offers {names} yet, so I've told the facilitators."
    return "I couldn't tell its topic, so I've told the facilitators."


async def _offer_library(
    ctx: Context, question: Question, where: Where, hits: list, asker: str, heading: str
) -> str:
    """Before asking anyone: the entries that may already answer the question, in its
    thread; the asker says whether one does, else the experts are asked after `HOLD`."""
    lines = [heading, "The library may already answer this:"]
    for hit in hits:
        link = await library.link(ctx, hit.entry) or f"#{hit.entry.id}"
        lines.append(f"• #{hit.entry.id} {hit.entry.title} — {hit.excerpt} · {link}")
    minutes = int(HOLD.total_seconds() // 60)
    lines.append(
        f"{asker}: if one answers it, type `solved {question.id} entry <number>`; otherwise "
        f"`route {question.id}` asks members who know the topic now, and I will in {minutes} "
        "minutes anyway."
    )
    buttons = [
        Action(f"#{hit.entry.id} answers it", f"solved {question.id} entry {hit.entry.id}")
        for hit in hits
    ] + [Action("Ask the experts", f"route {question.id}")]
    await ctx.platforms[where.channel.platform].send(
        where.channel, "\n".join(lines), thread_id=where.message_id, actions=buttons
    )
    return f"The library may already answer it; I'll ask the experts in {minutes} minutes if not."


async def release(ctx: Context, question_id: int, sender: Sender | None) -> str:
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
                f"Only the person who asked #{question_id} or a facilitator can route it."
            )
        if question.status != OPEN:
            raise CommandError(f"Question #{question_id} is already solved.")
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
        raise CommandError(f"Question #{question_id} is already with the experts.")
    routed = await route(ctx, question, where, names)
    if where.channel.platform in ctx.platforms:
        await ctx.platforms[where.channel.platform].send(
            where.channel,
            f"{routed} Anyone can answer in this thread.",
            thread_id=where.message_id,
            actions=actions(question_id),
        )
    return routed


async def release_held(ctx: Context) -> int:
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


def _no_expert(names: str) -> str:
    return f"Nobody offers {names} yet." if names else "I couldn't tell which topic it is about."


async def _forget(ctx: Context, question_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(QuestionTopic).where(QuestionTopic.question_id == question_id))
        await session.execute(delete(Question).where(Question.id == question_id))
        await session.commit()


# telling people -------------------------------------------------------------------------


async def link_to(ctx: Context, where: Where) -> str | None:
    """A link that opens the question's thread, where its platform can give one."""
    return await ctx.permalink(where.channel, where.message_id)


async def where_is(session: AsyncSession, question: Question) -> Where:
    channel = await session.get(Channel, question.channel_id)
    assert channel is not None
    return Where(
        ChannelRef(channel.platform, channel.channel_id, channel.name), question.message_id
    )


async def tell_experts(
    ctx: Context, question: Question, where: Where, round_: int, count: int
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
            if await _tell(ctx, question, member_id, round_, ASKED, text or "", buttons, where):
                reached.append(member_id)
    return reached


async def tell_facilitators(
    ctx: Context, question: Question, where: Where, round_: int, reason: str
) -> list[int]:
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
        asker = await session.get(Member, question.asker_id)
    link = await link_to(ctx, where)
    text = (
        f"{reason} Question #{question.id} from {_name(asker)} in "
        f"{where.channel.name or where.channel.id} needs someone:\n> {excerpt(question.text, 300)}"
        + (f"\nThread: {link}" if link else "")
        + "\nYou can answer in its thread, or point an expert to it."
    )
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
    ctx: Context, question: Question, where: Where, asker: Member | None
) -> str:
    link = await link_to(ctx, where)
    return (
        f"{_name(asker)} asked a question you may know about (#{question.id}, in "
        f"{where.channel.name or where.channel.id}):\n> {excerpt(question.text, 500)}\n"
        + (f"Open the thread: {link}\n" if link else "")
        + f"Answer in the question's thread. Can't help? `decline {question.id}`. "
        f"Not your topic? `decline {question.id} not my topic`."
    )


def _name(member: Member | None) -> str:
    return member.display_name if member and member.display_name else "A member"


async def _tell(
    ctx: Context,
    question: Question,
    member_id: int,
    round_: int,
    status: str,
    text: str,
    buttons,
    where: Where,
) -> bool:
    """Claim the (question, member) row, then send; the row is given back if sending fails.
    False if someone else told them already or they cannot be reached."""
    now = ctx.now()
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, QuestionExpert)
            .values(
                question_id=question.id,
                member_id=member_id,
                notified_at=now,
                status=status,
                round=round_,
            )
            .on_conflict_do_nothing()
            .returning(QuestionExpert.member_id)
        )
        accounts = await members.platform_users(session, member_id)
        await session.commit()
    if claimed is None:
        return False
    try:
        user = direct.reachable(ctx.platforms, accounts, where.channel.platform)
        if user is None:
            raise LookupError(f"member {member_id} has no account on a running platform")
        await ctx.platforms[user.platform].send_dm(user, text, actions=buttons)
    except BaseException as exc:
        await asyncio.shield(_untell(ctx, question.id, member_id))
        if isinstance(exc, Exception):
            log.warning("question #%s: could not tell member %s: %s", question.id, member_id, exc)
            return False
        raise
    return True


async def _untell(ctx: Context, question_id: int, member_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            delete(QuestionExpert).where(
                QuestionExpert.question_id == question_id, QuestionExpert.member_id == member_id
            )
        )
        await session.commit()


# finding a question ---------------------------------------------------------------------


def parse_id(word: str) -> int:
    return number(word, "question", 12)


async def get(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise CommandError(f"There is no question #{question_id}. Type `questions` to see them.")
    return question


def _open_threads(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(Channel.platform, Channel.channel_id, Question.message_id)
        .join(Channel, Channel.id == Question.channel_id)
        .where(Question.status == OPEN, Question.message_id != "")
    )
    if since is not None:
        query = query.where(Question.asked_at >= since)
    return [
        (platform, post_key(channel, root)) for platform, channel, root in session.execute(query)
    ]


THREADS = Watch("open questions", _open_threads)
"""The roots of open questions' threads: the asker's ✅ on one, or on a message in one,
solves the question."""


async def in_thread(session: AsyncSession, channel: ChannelRef, message_id: str) -> Question | None:
    """The question whose thread root is `message_id` in `channel`."""
    return await session.scalar(
        select(Question)
        .join(Channel, Channel.id == Question.channel_id)
        .where(
            Channel.platform == channel.platform,
            Channel.channel_id == channel.id,
            Question.message_id == message_id,
        )
    )


# first response, solving, passing on ----------------------------------------------------


async def note_first_responses(ctx: Context, question_id: int | None = None) -> int:
    """Find first responses in the activity log: the earliest reply in an open question's
    thread by someone other than the asker (bots are never logged). Each is noted once
    (whichever process gets there first) and the asker is told who answered. Nothing runs
    per message: the questions job calls this, and so do the commands that show or close a
    question, after the log has caught up."""
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
        noted += await _first_response(ctx, found_id, first_ts)
    return noted


async def _first_response(ctx: Context, question_id: int, first_ts) -> bool:
    async with ctx.db() as session:
        question = await session.get(Question, question_id)
        if question is None:
            return False
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
        who = await session.get(Member, responder) if responder else None
        where = await where_is(session, question)
        await session.commit()
    if result.rowcount != 1:
        return False
    platform = (
        ctx.platforms[where.channel.platform] if where.channel.platform in ctx.platforms else None
    )
    link = await platform.permalink(where.channel, where.message_id) if platform else None
    await direct.dm_member(
        ctx,
        question.asker_id,
        f"{_name(who)} answered your question #{question_id}"
        + (f": {link}" if link else " in its thread.")
        + f"\nIf that solves it, type `solved {question_id}` or react ✅ to the question.",
        where.channel.platform,
    )
    return True


async def solve(
    ctx: Context,
    question_id: int,
    sender: Sender,
    credit_id: int | None,
    via: str,
    entry_id: int | None = None,
) -> str:
    """Mark a question solved, crediting a member (by default the first to answer) or, when
    it was held for the library's answer, the library entry that answered it."""
    async with ctx.db() as session:  # refuse before noting anything
        _may_solve(await get(session, question_id), sender)
        if entry_id is not None and await session.get(KnowledgeEntry, entry_id) is None:
            raise CommandError(f"There is no library entry #{entry_id}.")
    await note_first_responses(ctx, question_id)  # the one to credit, if nobody is named
    async with ctx.db() as session:
        question = await get(session, question_id)
        _may_solve(question, sender)
        if entry_id is None and credit_id is None and question.held_until is not None:
            top = await session.run_sync(library.similar, question.text, 1)
            entry_id = top[0].entry.id if top else None
        entry = await session.get(KnowledgeEntry, entry_id) if entry_id is not None else None
        if entry_id is not None and entry is None:
            raise CommandError(f"There is no library entry #{entry_id}.")
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
            raise CommandError(f"Question #{question_id} is already solved.")
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
        thanks = f", answered by the library (#{entry.id} {entry.title})"
    else:
        thanks = f", thanks to {helper.display_name}" if helper else ""
    log.info("question #%s solved by %s (%s)", question_id, sender.member_id, via)
    kept = await keep_in_library(ctx, question, where)
    library_note = (
        " The question and the answers in this thread are now kept in the library, with "
        "your names, so that others find them with `search`."
        if kept
        else ""
    )
    if where.message_id and where.channel.platform in ctx.platforms:
        await ctx.platforms[where.channel.platform].send(
            where.channel,
            f"✅ Question #{question_id} is solved{thanks}.{library_note}",
            thread_id=where.message_id,
        )
    return f"Marked question #{question_id} solved{thanks}."


def _may_solve(question: Question, sender: Sender) -> None:
    if question.asker_id != sender.member_id and roles.FACILITATOR not in sender.roles:
        raise CommandError(
            f"Only the person who asked #{question.id} or a facilitator can mark it solved."
        )
    if question.status == SOLVED:
        raise CommandError(f"Question #{question.id} is already solved.")


async def keep_in_library(ctx: Context, question: Question, where: Where) -> bool:
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
        lines = [question.text, ""]
        for reply in answers:
            author = await members.find(session, reply.user)
            name = author.display_name if author else (reply.user.name or reply.user.id)
            lines.append(f"{name}: {' '.join(reply.text.split())}")
        topic_ids = list(
            await session.scalars(
                select(QuestionTopic.topic_id).where(QuestionTopic.question_id == question.id)
            )
        )
        await library.add(
            session, title=excerpt(question.text, 200), body="\n".join(lines), now=ctx.now(),
            topic_ids=topic_ids, question_id=question.id, channel_id=question.channel_id,
            message_id=question.message_id, created_by=question.asker_id,
        )  # fmt: skip
        await session.commit()
    return True


async def decline(ctx: Context, question_id: int, sender: Sender, not_my_topic: bool) -> str:
    async with ctx.db() as session:
        question = await get(session, question_id)
        row = await session.get(QuestionExpert, (question_id, sender.member_id))
        if row is None or row.status not in (ASKED, DECLINED, NOT_MY_TOPIC):
            raise CommandError(f"You weren't asked about question #{question_id}.")
        if row.status != ASKED:
            raise CommandError(f"You have already passed on question #{question_id}.")
        if question.status == SOLVED:
            raise CommandError(f"Question #{question_id} is already solved; thank you anyway.")
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
        return f"Thanks for letting me know: I've passed question #{question_id} to another expert."
    if await tell_facilitators(
        ctx, question, where, FACILITATOR_ROUND, reason="Every expert asked has passed."
    ):
        return (
            "Thanks: no other expert offers that topic, so I've told the facilitators about "
            f"#{question_id}."
        )
    return f"Thanks for letting me know about question #{question_id}."


# escalation -----------------------------------------------------------------------------


async def escalate(ctx: Context) -> int:
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


async def _escalate_once(ctx: Context, question: Question, step: int) -> bool:
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
            .where(QuestionExpert.question_id == question.id, QuestionExpert.round == SECOND_ROUND)
        )
        await session.commit()
    if claimed.rowcount != 1:
        return False
    try:
        if step == 1:
            count = ctx.settings.experts_per_question - (earlier or 0)
            await tell_experts(ctx, question, where, SECOND_ROUND, count)
        else:
            hours = ctx.settings.question_sla_hours * 2
            await tell_facilitators(
                ctx,
                question,
                where,
                FACILITATOR_ROUND,
                reason=f"No answer after {hours:g} hours.",
            )
    except BaseException:
        await asyncio.shield(_unclaim(ctx, question.id, step))
        raise
    log.info("question #%s escalated (step %s)", question.id, step)
    return True


async def _unclaim(ctx: Context, question_id: int, step: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            update(Question)
            .where(Question.id == question_id, Question.escalations == step)
            .values(escalations=step - 1)
        )
        await session.commit()
