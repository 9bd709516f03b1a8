"""What every part of the questions feature shares: a question's statuses and rounds, where
it lives (`Where`), the buttons on it, finding it by number or by its thread, and the watch on
open questions' threads.

Asking is in `asking`, the library's offer before anyone is asked in `suggesting`, telling
experts and facilitators in `telling`, first responses in `responses`, solving in `solving`,
declining and escalation in `escalation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.commands import number
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _, verbatim
from bot.models import Channel, Member, Question
from bot.types import Action, ChannelRef
from bot.watch import Watch, post_key
from handlers.questions import routing

OPEN, SOLVED, WITHDRAWN = routing.OPEN, "solved", "withdrawn"
ASKED, DECLINED, NOT_MY_TOPIC, FACILITATOR = (
    routing.ASKED,
    "declined",
    "not_my_topic",
    "facilitator",
)
FIRST_ROUND, SECOND_ROUND, FACILITATOR_ROUND = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Where:
    """Where a question lives: its channel and the id of the message that roots its thread."""

    channel: ChannelRef
    message_id: str


def actions(question_id: int) -> list[Action]:
    return [
        Action(_("Solved"), f"solved {question_id}"),
        Action(_("I can't help"), f"decline {question_id}"),
        Action(_("Not my topic"), f"decline {question_id} not my topic"),
    ]


def name_of(member: Member | None) -> Message:
    """The member's name, as a parameter of a message."""
    return verbatim(member.display_name) if member and member.display_name else _("A member")


async def link_to(ctx: Services, where: Where) -> str | None:
    """A link that opens the question's thread, where its platform can give one."""
    return await ctx.permalink(where.channel, where.message_id)


async def where_is(session: AsyncSession, question: Question) -> Where:
    channel = await session.get(Channel, question.channel_id)
    assert channel is not None
    return Where(
        ChannelRef(channel.platform, channel.channel_id, channel.name), question.message_id
    )


def not_open(question: Question) -> Message:
    """Why nothing more can be done with a question that is no longer open."""
    if question.status == WITHDRAWN:
        return _("Question #{id} was withdrawn.", id=question.id)
    return _("Question #{id} is already solved.", id=question.id)


def parse_id(word: str) -> int:
    return number(word, "question", 12)


async def get(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise CommandError(
            _("There is no question #{id}. Type `questions` to see them.", id=question_id)
        )
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
