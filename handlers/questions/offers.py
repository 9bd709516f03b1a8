"""The gentle offer: a plain message ending in a question mark that gets no reply within half
the SLA is offered, once, in its thread, to be routed to experts. Reacting ✋ or answering
`ask` in the thread accepts; the message becomes the question and its thread the question's.

Messages by facilitators are never offered. The message's text is kept only when message
text is stored (`CONVENER_STORE_MESSAGE_TEXT`); otherwise accepting asks the member to type
the question after `ask` in the thread, and only that text is kept, for the question.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from bot import members, roles
from bot.claims import Sender
from bot.context import Context
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.models import Channel, QuestionOffer
from bot.types import ChannelRef, Message
from handlers.questions import service

log = logging.getLogger(__name__)

WAITING, OFFERED, ANSWERED, ACCEPTED = "waiting", "offered", "answered", "accepted"


def looks_like_a_question(event: Message) -> bool:
    return (
        not event.channel.is_direct
        and not event.is_reply
        and event.text.rstrip().endswith("?")
        and len(event.text.strip()) > 1
    )


async def watch(ctx: Context, event: Message) -> None:
    """Remember a question-like message, to offer help if nobody replies."""
    sender = ctx.sender
    if sender is None or roles.FACILITATOR in sender.roles:
        return
    text = (
        service.excerpt(event.text, service.MAX_QUESTION)
        if ctx.settings.store_message_text
        else None
    )
    async with ctx.db() as session:
        channel = await members.resolve_channel(session, event.channel)
        await session.execute(
            upsert(session, QuestionOffer)
            .values(
                channel_id=channel.id,
                message_id=event.message_id,
                member_id=sender.member_id,
                posted_at=event.ts,
                text=text,
                status=WAITING,
            )
            .on_conflict_do_nothing()
        )
        await session.commit()


async def replied(ctx: Context, event: Message) -> None:
    """A reply by someone else in a watched message's thread: no offer is needed."""
    if ctx.sender is None or not event.thread_id:
        return
    async with ctx.db() as session:
        await session.execute(
            update(QuestionOffer)
            .where(
                QuestionOffer.channel_id == _channel_id(event.channel),
                QuestionOffer.message_id == event.thread_id,
                QuestionOffer.status == WAITING,
                QuestionOffer.member_id != ctx.sender.member_id,
            )
            .values(status=ANSWERED, text=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


def _channel_id(channel: ChannelRef):
    return (
        select(Channel.id)
        .where(Channel.platform == channel.platform, Channel.channel_id == channel.id)
        .scalar_subquery()
    )


async def offer_due(ctx: Context) -> int:
    """Offer help on every watched message unanswered for half the SLA (the job)."""
    cutoff = ctx.now() - timedelta(hours=ctx.settings.question_sla_hours / 2)
    async with ctx.db() as session:
        due = (
            await session.execute(
                select(QuestionOffer, Channel)
                .join(Channel, Channel.id == QuestionOffer.channel_id)
                .where(QuestionOffer.status == WAITING, QuestionOffer.posted_at <= cutoff)
                .order_by(QuestionOffer.posted_at)
                .limit(500)
            )
        ).all()
    offered = 0
    for offer, channel in due:
        offered += await _offer(
            ctx, offer, ChannelRef(channel.platform, channel.channel_id, channel.name)
        )
    return offered


async def _offer(ctx: Context, offer: QuestionOffer, channel: ChannelRef) -> bool:
    async with ctx.db() as session:
        claimed = await session.execute(
            update(QuestionOffer)
            .where(QuestionOffer.id == offer.id, QuestionOffer.status == WAITING)
            .values(status=OFFERED)
        )
        await session.commit()
    if claimed.rowcount != 1 or channel.platform not in ctx.platforms:
        return False
    try:
        sent = await ctx.on(channel.platform).platform.send(
            channel,
            "Nobody has replied yet. Shall I ask members who know this topic? React ✋ to your "
            "message, or answer `ask` here, and I'll route it to experts.",
            thread_id=offer.message_id,
        )
    except BaseException as exc:
        await asyncio.shield(_set(ctx, offer.id, WAITING))
        if isinstance(exc, Exception):
            log.warning("could not offer help on message %s: %s", offer.message_id, exc)
            return False
        raise
    await _set(ctx, offer.id, OFFERED, offer_message_id=sent.message_id)
    return True


async def _set(ctx: Context, offer_id: int, status: str, **values) -> None:
    async with ctx.db() as session:
        await session.execute(
            update(QuestionOffer)
            .where(QuestionOffer.id == offer_id)
            .values(status=status, **values)
        )
        await session.commit()


async def open_offer(
    ctx: Context, sender: Sender, channel: ChannelRef, message_id: str
) -> QuestionOffer | None:
    """The sender's watched message that `message_id` is (or the offer made on it), if it is
    still open."""
    async with ctx.db() as session:
        return await session.scalar(
            select(QuestionOffer).where(
                QuestionOffer.channel_id == _channel_id(channel),
                or_(
                    QuestionOffer.message_id == message_id,
                    QuestionOffer.offer_message_id == message_id,
                ),
                QuestionOffer.member_id == sender.member_id,
                QuestionOffer.status.in_((WAITING, OFFERED)),
            )
        )


async def accept_by_reaction(
    ctx: Context, sender: Sender, channel: ChannelRef, message_id: str
) -> bool:
    """✋ by the member on their watched message or on the offer."""
    offer = await open_offer(ctx, sender, channel, message_id)
    if offer is None:
        return False
    try:
        answer = await accept(ctx, sender, channel, offer, "")
    except CommandError as exc:
        answer = str(exc)
    if answer:
        await ctx.platform.send_private(sender.user, answer, channel=channel)
    return True


async def accept(
    ctx: Context, sender: Sender, channel: ChannelRef, offer: QuestionOffer, typed: str
) -> str | None:
    """Route the watched message as a question (`typed`, or its kept text), in its thread."""
    text = typed.strip() or offer.text
    if not text:
        raise UsageError(
            "Happy to. I don't keep message text here, so type your question after `ask` in "
            "this thread (for example: ask How do you phase a tax reassessment?)."
        )
    service.check_text(service.split_named_topics(text)[0])
    async with ctx.db() as session:
        claimed = await session.execute(
            update(QuestionOffer)
            .where(QuestionOffer.id == offer.id, QuestionOffer.status.in_((WAITING, OFFERED)))
            .values(status=ACCEPTED, text=None)
        )
        await session.commit()
    if claimed.rowcount != 1:
        return None
    try:
        return await service.ask(ctx, sender, channel, text, root=offer.message_id)
    except BaseException:
        await asyncio.shield(_set(ctx, offer.id, offer.status, text=offer.text))
        raise
