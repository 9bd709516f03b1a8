"""The gentle offer: a plain message ending in a question mark (an activity row with `asks`)
that nobody else replied to within half the SLA is offered, once, in its thread, to be routed
to experts. Reacting ✋ or answering `ask` in the thread accepts; the message becomes the
question and its thread the question's.

Nothing is written while messages flow: the job finds them in the activity log. Messages by
facilitators are never offered. Their text is known only when message text is stored
(`CONVENER_STORE_MESSAGE_TEXT`); otherwise accepting asks the member to type the question
after `ask` in the thread, and only that text is kept, for the question.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot import notices, outbox, roles
from bot.claims import Sender
from bot.context import Context, Services
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _
from bot.models import Activity, Channel, Question, QuestionOffer
from bot.router import Router
from bot.types import ChannelRef
from bot.watch import Watch, post_key
from handlers.questions import asking

log = logging.getLogger(__name__)
router = Router()

OFFERED, ACCEPTED = "offered", "accepted"
LOOK_BACK = timedelta(days=3)
OFFER_TEXT = _(
    "Nobody has replied yet. Shall I ask members who know this topic? React ✋ to your "
    "message, or answer `ask` here, and I'll route it to experts."
)


def _unanswered(cutoff, since):
    """Question-like messages posted between `since` and `cutoff` with no reply by anyone
    else, not offered and not made a question yet."""
    reply = aliased(Activity)
    return (
        select(Activity, Channel)
        .join(Channel, Channel.id == Activity.channel_id)
        .where(
            Activity.asks.is_(True),
            Activity.ts <= cutoff,
            Activity.ts > since,
            ~exists().where(
                reply.channel_id == Activity.channel_id,
                reply.thread_id == Activity.message_id,
                reply.member_id != Activity.member_id,
            ),
            ~exists().where(
                QuestionOffer.channel_id == Activity.channel_id,
                QuestionOffer.message_id == Activity.message_id,
            ),
            ~exists().where(
                Question.channel_id == Activity.channel_id,
                Question.message_id == Activity.message_id,
            ),
        )
        .order_by(Activity.ts)
        .limit(500)
    )


async def offer_due(ctx: Services) -> int:
    """Offer help on every question-like message unanswered for half the SLA (the job)."""
    cutoff = ctx.now() - timedelta(hours=ctx.settings.question_sla_hours / 2)
    async with ctx.db() as session:
        due = (await session.execute(_unanswered(cutoff, cutoff - LOOK_BACK))).all()
        facilitators = {
            member.id for member in (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
        }
    offered = 0
    for message, channel in due:
        if message.member_id in facilitators or channel.platform not in ctx.platforms:
            continue
        where = ChannelRef(channel.platform, channel.channel_id, channel.name)
        offered += await _offer(ctx, message, where)
    return offered


async def _offer(ctx: Services, message: Activity, channel: ChannelRef) -> bool:
    """Claim the offer (one per message, whichever process gets there first) and queue its
    post in the message's thread, in one transaction."""
    async with ctx.db() as session:
        offer_id = await session.scalar(
            upsert(session, QuestionOffer)
            .values(
                channel_id=message.channel_id,
                message_id=message.message_id,
                member_id=message.member_id,
                offered_at=ctx.now(),
                status=OFFERED,
            )
            .on_conflict_do_nothing()
            .returning(QuestionOffer.id)
        )
        if offer_id is None:
            return False
        await outbox.post(
            ctx, f"offer:{offer_id}", "offer", channel, OFFER_TEXT, message.message_id,
            session=session,
        )  # fmt: skip
        await session.commit()
    ctx.watch(OFFERS, channel.platform, post_key(channel.id, message.message_id))
    return True


@router.delivered("offer")
def offered(session: Session, notice: outbox.Delivered) -> list[tuple[Watch, str]]:
    """The offer is up: ✋ on it accepts, as on the message it was made on."""
    if notice.message_id is None or notice.channel_id is None:
        return []
    session.execute(
        update(QuestionOffer)
        .where(QuestionOffer.id == int(notice.key))
        .values(offer_message_id=notice.message_id)
    )
    return [(OFFERS, post_key(notice.channel_id, notice.message_id))]


def _open_offers(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(
            Channel.platform,
            Channel.channel_id,
            QuestionOffer.message_id,
            QuestionOffer.offer_message_id,
        )
        .join(Channel, Channel.id == QuestionOffer.channel_id)
        .where(QuestionOffer.status == OFFERED)
    )
    if since is not None:
        query = query.where(QuestionOffer.offered_at >= since)
    return [
        (platform, post_key(channel, message_id))
        for platform, channel, *ids in session.execute(query)
        for message_id in ids
        if message_id
    ]


OFFERS = Watch("open offers", _open_offers)
"""Offers to route a question-like message, and the messages they were made on: ✋ on
either by the member accepts."""


async def _withdraw(ctx: Services, offer_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(QuestionOffer).where(QuestionOffer.id == offer_id))
        await session.commit()


def _channel_id(channel: ChannelRef):
    return (
        select(Channel.id)
        .where(Channel.platform == channel.platform, Channel.channel_id == channel.id)
        .scalar_subquery()
    )


async def open_offer(
    ctx: Context, sender: Sender, channel: ChannelRef, message_id: str
) -> QuestionOffer | None:
    """The offer made on the sender's message `message_id` (or the offer message itself),
    if it is still open."""
    async with ctx.db() as session:
        return await session.scalar(
            select(QuestionOffer).where(
                QuestionOffer.channel_id == _channel_id(channel),
                or_(
                    QuestionOffer.message_id == message_id,
                    QuestionOffer.offer_message_id == message_id,
                ),
                QuestionOffer.member_id == sender.member_id,
                QuestionOffer.status == OFFERED,
            )
        )


async def accept_by_reaction(
    ctx: Context, sender: Sender, channel: ChannelRef, message_id: str
) -> bool:
    """✋ by the member on their message or on the offer."""
    offer = await open_offer(ctx, sender, channel, message_id)
    if offer is None:
        return False
    try:
        answer = await accept(ctx, sender, channel, offer, "")
    except CommandError as exc:
        answer = exc.message
    if answer:
        await ctx.platform.send_private(sender.user, answer, channel=channel)
    return True


async def accept(
    ctx: Context, sender: Sender, channel: ChannelRef, offer: QuestionOffer, typed: str
) -> Message | None:
    """Route the offered message as a question (`typed`, or its stored text), in its thread."""
    text = typed.strip() or await _stored_text(ctx, offer)
    if not text:
        raise UsageError(
            _("Happy to. I don't keep message text here, so type your question after `ask` in "
              "this thread (for example: ask How do you phase a tax reassessment?).")
        )  # fmt: skip
    asking.check_text(asking.split_named_topics(text)[0])

    async def claim() -> int | None:
        async with ctx.db() as session:
            claimed = await session.execute(
                update(QuestionOffer)
                .where(QuestionOffer.id == offer.id, QuestionOffer.status == OFFERED)
                .values(status=ACCEPTED)
            )
            await session.commit()
        return offer.id if claimed.rowcount == 1 else None

    _claimed, answer = await notices.claim_then_send(
        claim,
        lambda _offer_id: asking.ask(ctx, sender, channel, text, root=offer.message_id),
        lambda offer_id: reopen(ctx, offer_id),
    )
    return answer


async def close(ctx: Services, channel: ChannelRef, message_id: str) -> int | None:
    """Before a message becomes a question another way (*Ask the experts*): the offer made
    on it, if one is open, taken as accepted so that ✋ on it asks nothing more; its id to
    `reopen` if asking fails. Raises when it was accepted meanwhile (it is being asked)."""
    async with ctx.db() as session:
        offer_id = await session.scalar(
            select(QuestionOffer.id).where(
                QuestionOffer.channel_id == _channel_id(channel),
                QuestionOffer.message_id == message_id,
            )
        )
        if offer_id is None:
            return None
        claimed = await session.execute(
            update(QuestionOffer)
            .where(QuestionOffer.id == offer_id, QuestionOffer.status == OFFERED)
            .values(status=ACCEPTED)
        )
        await session.commit()
    if claimed.rowcount != 1:
        raise CommandError(_("That message is being sent to the experts already."))
    return offer_id


async def _stored_text(ctx: Context, offer: QuestionOffer) -> str | None:
    async with ctx.db() as session:
        return await session.scalar(
            select(Activity.text).where(
                and_(
                    Activity.channel_id == offer.channel_id,
                    Activity.message_id == offer.message_id,
                    Activity.asks.is_(True),
                )
            )
        )


async def reopen(ctx: Services, offer_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            update(QuestionOffer).where(QuestionOffer.id == offer_id).values(status=OFFERED)
        )
        await session.commit()
