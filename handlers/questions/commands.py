"""Commands: `ask`, `questions [mine|open|all]`, `solved`, `route`, `decline`, `withdraw`,
`away`, `back`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import members, timezones, topics
from bot.arguments import Choice, Number, Rest
from bot.commands import Command, excerpt, number, split_words
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines, n_
from bot.models import Member, Question, QuestionTopic
from bot.router import Router
from handlers.questions import (
    asking,
    escalation,
    offers,
    responses,
    solving,
    suggesting,
    withdrawing,
)
from handlers.questions.service import OPEN, SOLVED, WITHDRAWN

router = Router()

LISTED = 15
WHICH_LIST = _("Which questions? `questions`, `questions mine` or `questions all`.")
WHICH_ENTRY = _("Which library entry? For example: solved 12 entry 3")
SAY_AWAY = _("Say `away`, or `away until 2026-12-24`.")
NONE_LISTED = {
    "open": _("No open questions. Ask one with `ask <question>`."),
    "mine": _("You haven't asked anything yet. Try `ask <question>`."),
    "all": _("Nobody has asked a question yet. Be the first: `ask <question>`."),
}
LISTED_TITLE = {
    "open": _("Open questions, newest first:"),
    "mine": _("Your questions, newest first:"),
    "all": _("Questions, newest first:"),
}


def _which(command: str) -> Message:
    return _("Which question? For example: {command} 12", command=command)


def _question_id(command: str) -> Number:
    return Number("id", "question", 12, missing=_which(command))


@dataclass(frozen=True)
class _Question(Rest):
    """The question, with topics after a colon (split by `asking.split_named_topics`). Left
    out only to accept an offer in its thread, so usage shows it as needed."""

    name: str = "question"
    label: str = "<question>[: topic, ...]"
    default: str = ""

    @property
    def usage(self) -> str:
        return self.label


@router.command(
    "ask",
    args=[_Question()],
    summary="ask the community",
    example="ask How do other cities plan a multi-year capital budget?",
)
async def ask(ctx: Context, cmd: Command) -> Message | None:
    text = cmd.values.question
    offer = None
    if cmd.thread_id and not cmd.channel.is_direct:
        offer = await offers.open_offer(ctx, ctx.sender, cmd.channel, cmd.thread_id)
    if offer is not None:
        return await offers.accept(ctx, ctx.sender, cmd.channel, offer, text)
    return await asking.ask(
        ctx, ctx.sender, cmd.channel, text, topics_named=cmd.values.get("topics")
    )  # a form names the topics apart (`handlers.questions.forms`)


@router.command(
    "questions",
    args=[Choice("which", ("mine", "open", "all"), what="list of questions", default="open")],
    extra=WHICH_LIST,
    summary="questions and their status",
)
async def list_questions(ctx: Context, cmd: Command) -> Message:
    which = cmd.values.which
    await responses.note_first_responses(ctx)
    query = select(Question, Member.display_name).join(Member, Member.id == Question.asker_id)
    if which == "open":
        query = query.where(Question.status == OPEN)
    elif which == "mine":
        query = query.where(Question.asker_id == ctx.sender.member_id)
    async with ctx.db() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await session.execute(
                query.order_by(Question.asked_at.desc(), Question.id.desc()).limit(LISTED)
            )
        ).all()
        names = await topics.names_by(
            session, QuestionTopic.question_id, QuestionTopic.topic_id, [q.id for q, _asker in rows]
        )
    if not rows:
        return NONE_LISTED[which]
    more = total - LISTED if total and total > LISTED else 0
    return lines(
        LISTED_TITLE[which],
        *(_line(ctx, question, asker, names.get(question.id, [])) for question, asker in rows),
        n_("… and {n} more.", "… and {n} more.", more) if more else None,
    )


def _line(ctx: Context, question: Question, asker: str, topic_names: list[str]) -> Message:
    if question.status == SOLVED:
        status = _("solved")
    elif question.status == WITHDRAWN:
        status = _("withdrawn")
    elif question.first_response_at is not None:
        status = _("answered, open")
    else:
        status = _("waiting for an answer")
    ago = _ago(ctx.now(), question.asked_at)
    text = excerpt(question.text, 70)
    if topic_names:
        return _("• #{id} · {status} · {ago} · {asker} · {topics} — {text}", id=question.id,
                 status=status, ago=ago, asker=asker, topics=", ".join(topic_names),
                 text=text)  # fmt: skip
    return _("• #{id} · {status} · {ago} · {asker} — {text}", id=question.id, status=status,
             ago=ago, asker=asker, text=text)  # fmt: skip


def _ago(now: datetime, then: datetime) -> Message:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 60:
        return n_("{n} min ago", "{n} min ago", max(minutes, 0))
    if minutes < 48 * 60:
        return n_("{n} h ago", "{n} h ago", minutes // 60)
    return n_("{n} day ago", "{n} days ago", minutes // 1440)


@router.command(
    "solved",
    args=[_question_id("solved"), Rest("by", default="", label="@who | entry <number>")],
    summary="mark your question solved (or react ✅)",
    example="solved 12",
)
async def solved(ctx: Context, cmd: Command) -> Message:
    credit = entry = None
    by = split_words(cmd.values.by)
    if by and by[0].lower() == "entry":
        if len(by) != 2:
            raise UsageError(WHICH_ENTRY)
        entry = number(by[1], "library entry", 3)
    elif by:
        async with ctx.db() as session:
            credit = (await members.from_mention(session, ctx.platform, " ".join(by))).id
            await session.commit()
    return await solving.solve(ctx, cmd.values.id, ctx.sender, credit, "command", entry)


@router.command(
    "route",
    args=[_question_id("route")],
    extra=_which("route"),
    summary="ask the experts now",
    example="route 12",
)
async def route(ctx: Context, cmd: Command) -> Message:
    routed = await suggesting.release(ctx, cmd.values.id, ctx.sender)
    return _("Question #{id}: {routed}", id=cmd.values.id, routed=routed)


@router.command(
    "decline",
    args=[_question_id("decline"), Rest("reason", default="", label="not my topic")],
    summary="pass a question on to the next expert",
    example="decline 12",
)
async def decline(ctx: Context, cmd: Command) -> Message:
    reason = " ".join(split_words(cmd.values.reason.lower()))
    if reason not in ("", "not my topic"):
        raise UsageError(_("Say `decline 12`, or `decline 12 not my topic`."))
    return await escalation.decline(ctx, cmd.values.id, ctx.sender, bool(reason))


@router.command(
    "withdraw",
    args=[_question_id("withdraw")],
    extra=_which("withdraw"),
    summary="take back your question",
    example="withdraw 12",
)
async def withdraw(ctx: Context, cmd: Command) -> Message:
    return await withdrawing.withdraw(ctx, cmd.values.id, ctx.sender)


@router.command(
    "away",
    args=[Rest("until", default="", label="until YYYY-MM-DD")],
    summary="pause routed questions",
    example="away until 2026-12-24",
)
async def away(ctx: Context, cmd: Command) -> Message:
    words = split_words(cmd.values.until)
    until = None
    if words:
        if words[0].lower() != "until" or len(words) != 2:
            raise UsageError(SAY_AWAY)
        until = _back_on(ctx, ctx.sender.member, words[1])
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        member.is_away = True
        member.away_until = until
        await session.commit()
    if until is None:
        return _("You're away: I won't route questions to you until you type `back`.")
    return _("You're away until {date}: I won't route questions to you before then. "
             "`back` ends it sooner.", date=words[1])  # fmt: skip


def _back_on(ctx: Context, member: Member, text: str) -> datetime:
    day = timezones.day(text)
    zone = ZoneInfo(member.timezone or ctx.settings.timezone)
    back = datetime.combine(day, time(0, 0), tzinfo=zone)
    if back <= ctx.now():
        raise CommandError(_("{date} has already come; give a date in the future.", date=text))
    return back


@router.command("back", extra=_("Just `back`."), summary="receive routed questions again")
async def back(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        was_away = member.is_away
        member.is_away = False
        member.away_until = None
        await session.commit()
    if not was_away:
        return _("You weren't away: questions on your topics already reach you.")
    return _("Welcome back: questions on your topics reach you again.")
