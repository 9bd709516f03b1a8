"""Asking: the question's text and the topics named after a colon, where it is posted, and
posting it; then the library's offer (`suggesting`) or the experts (`telling`)."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update

from bot import home, members, notices, topics
from bot.claims import Sender
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.i18n import Message, Number, _, lines, n_, verbatim
from bot.models import Channel, Question, QuestionTopic, Topic
from bot.types import ChannelRef
from bot.watch import post_key
from handlers.questions import suggesting, telling
from handlers.questions.service import OPEN, THREADS, Where, actions, link_to

MAX_QUESTION = 2000


def check_text(text: str) -> str:
    """The question, trimmed; UsageError when there is none, CommandError when too long."""
    text = text.strip()
    if not text:
        raise UsageError(
            _("What is your question? For example: ask How do you phase a tax reassessment?")
        )
    if len(text) > MAX_QUESTION:
        raise CommandError(n_(
            "That question is {length} character long; please keep it under {most} (put the "
            "details in the thread once it is posted).",
            "That question is {length} characters long; please keep it under {most} (put the "
            "details in the thread once it is posted).",
            len(text), length=Number(len(text)), most=Number(MAX_QUESTION),
        ))  # fmt: skip
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
    if row is None and wanted:
        raise CommandError(_(
            "Questions are posted in a channel so that everyone can learn from the answers. "
            "Ask in a channel (for example `ask How do you ...?` there)."
        ))  # fmt: skip
    if row is None:
        raise CommandError(_(
            "Questions are posted in a channel so that everyone can learn from the answers. "
            "Ask in a channel (for example `ask How do you ...?` there), or a facilitator can "
            "choose one with CONVENER_QUESTIONS_CHANNEL."
        ))  # fmt: skip
    return ChannelRef(row.platform, row.channel_id, row.name)


async def ask(
    ctx: Context,
    sender: Sender,
    asked_in: ChannelRef,
    body: str,
    root: str | None = None,
    *,
    named_topics: bool = True,
    topics_named: list[str] | None = None,
) -> Message | None:
    """Post a question, route it to experts (or the facilitators), and say so in its thread.
    With `root`, the question is a message already in `asked_in` (an accepted offer, a
    message sent to the experts) and its thread is that message's. Topics are named after a
    colon only in what was typed as a question (`named_topics`), or apart from it
    (`topics_named`, a form's). Returns the answer for the asker, if they need one beyond
    the thread."""
    if topics_named is not None or not named_topics:
        text, named = body.strip(), list(topics_named or ())
    else:
        text, named = split_named_topics(body)
    text = check_text(text)
    post_in = asked_in if root else await where_to_post(ctx, asked_in)
    chosen: dict[int, Topic] = {}
    unknown: list[str] = []

    async def record() -> Question:
        async with ctx.db() as session:
            every_topic = await topics.every_label(session)
            chosen.update({s.topic.id: s.topic for s in topics.mentioned_in(every_topic, text)})
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
                asked_at=ctx.now(),
                status=OPEN,
            )
            session.add(question)
            await session.flush()
            session.add_all(QuestionTopic(question_id=question.id, topic_id=t) for t in chosen)
            await home.changed(session, [sender.member_id])
            await session.commit()
        return question

    name = sender.member.display_name or sender.user.name or sender.user.id

    async def post(question: Question) -> tuple[Question, str]:
        posted = await ctx.platform.send(
            post_in,
            lines(
                _("❓ **Question #{id}** from {name}:", id=question.id, name=name), verbatim(text)
            ),
        )
        return question, posted.message_id

    if root is None:
        _claimed, posted = await notices.claim_then_send(
            record, post, lambda question: _forget(ctx, question.id)
        )
        assert posted is not None
        question, root = posted
    else:
        question = await record()
    async with ctx.db() as session:
        await session.execute(
            update(Question).where(Question.id == question.id).values(message_id=root)
        )
        await session.commit()
    ctx.watch(THREADS, post_in.platform, post_key(post_in.id, root))
    question.message_id = root
    where = Where(post_in, root)
    names = ", ".join(t.name for t in chosen.values())
    skipped = _("(I don't know the topic {names}.)", names=", ".join(unknown)) if unknown else None
    heading = (
        _("Question #{id} · Topics: {names}", id=question.id, names=names)
        if names
        else _("Question #{id}", id=question.id)
    )
    routed = await suggesting.offer(ctx, question, where, name, lines(heading, skipped, sep=" "))
    if routed is None:
        routed = await telling.route(ctx, question, where, names)
        await ctx.platform.send(
            post_in,
            lines(heading, lines(
                routed, skipped, _("Anyone can answer in this thread."),
                _("{name}: when it's answered, react ✅ to the question or type `solved {id}`.",
                  name=name, id=question.id),
                sep=" ",
            )),
            thread_id=root,
            actions=actions(question.id),
        )  # fmt: skip
    if asked_in.is_direct:
        link = await link_to(ctx, Where(post_in, root))
        channel = post_in.name or post_in.id
        told = (
            _("Posted your question as #{id} in {channel}: {link}", id=question.id,
              channel=channel, link=link)
            if link
            else _("Posted your question as #{id} in {channel}.", id=question.id, channel=channel)
        )  # fmt: skip
        return lines(told, routed, sep=" ")
    return None


async def _forget(ctx: Context, question_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(QuestionTopic).where(QuestionTopic.question_id == question_id))
        await session.execute(delete(Question).where(Question.id == question_id))
        await session.commit()
