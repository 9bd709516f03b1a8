"""Commands: `ask`, `questions [mine|open|all]`, `solved`, `decline`, `away`, `back`."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import members, topics
from bot.claims import Sender
from bot.commands import Command, excerpt
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Member, Question, QuestionTopic
from bot.router import Router
from handlers.questions import offers, service

router = Router()

LISTED = 15
LISTS = {"": "open", "open": "open", "mine": "mine", "all": "all"}


def _sender(ctx: Context) -> Sender:
    return ctx.sender


@router.command(
    "ask",
    usage="ask <question>[: topic, ...]",
    summary="ask the community; I find members who know the topic",
    example="ask How do other cities plan a multi-year capital budget?",
)
async def ask(ctx: Context, cmd: Command) -> str | None:
    offer = None
    if cmd.thread_id and not cmd.channel.is_direct:
        offer = await offers.open_offer(ctx, _sender(ctx), cmd.channel, cmd.thread_id)
    if offer is not None:
        return await offers.accept(ctx, _sender(ctx), cmd.channel, offer, cmd.args)
    return await service.ask(ctx, _sender(ctx), cmd.channel, cmd.args)


@router.command(
    "questions",
    usage="questions [mine|open|all]",
    summary="questions and their status (open ones by default)",
)
async def list_questions(ctx: Context, cmd: Command) -> str:
    which = LISTS.get(cmd.args.strip().lower())
    if which is None:
        raise UsageError("Which questions? `questions`, `questions mine` or `questions all`.")
    await service.note_first_responses(ctx)
    query = select(Question, Member.display_name).join(Member, Member.id == Question.asker_id)
    if which == "open":
        query = query.where(Question.status == service.OPEN)
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
            session, QuestionTopic.question_id, QuestionTopic.topic_id, [q.id for q, _ in rows]
        )
    if not rows:
        return {
            "open": "No open questions. Ask one with `ask <question>`.",
            "mine": "You haven't asked anything yet. Try `ask <question>`.",
            "all": "Nobody has asked a question yet. Be the first: `ask <question>`.",
        }[which]
    title = {"open": "Open questions", "mine": "Your questions", "all": "Questions"}[which]
    lines = [f"{title}, newest first:"]
    for question, asker in rows:
        lines.append(_line(ctx, question, asker, names.get(question.id, [])))
    if total and total > LISTED:
        lines.append(f"… and {total - LISTED} more.")
    return "\n".join(lines)


def _line(ctx: Context, question: Question, asker: str, topic_names: list[str]) -> str:
    if question.status == service.SOLVED:
        status = "solved"
    elif question.first_response_at is not None:
        status = "answered, open"
    else:
        status = "waiting for an answer"
    topics = f" · {', '.join(topic_names)}" if topic_names else ""
    return (
        f"• #{question.id} · {status} · {_ago(ctx.now(), question.asked_at)} · {asker}{topics}"
        f" — {excerpt(question.text, 70)}"
    )


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // 1440} days ago"


@router.command(
    "solved",
    usage="solved <id> [@who | entry <number>]",
    summary="mark your question solved (a ✅ on it does too)",
    example="solved 12",
)
async def solved(ctx: Context, cmd: Command) -> str:
    if not cmd.argv:
        raise UsageError("Which question? For example: solved 12")
    question_id = service.parse_id(cmd.argv[0])
    credit = entry = None
    rest = cmd.argv[1:]
    if rest and rest[0].lower() == "entry":
        if len(rest) != 2:
            raise UsageError("Which library entry? For example: solved 12 entry 3")
        entry = service.parse_id(rest[1])
    elif rest:
        async with ctx.db() as session:
            credit = (await members.from_mention(session, ctx.platform, " ".join(rest))).id
            await session.commit()
    return await service.solve(ctx, question_id, _sender(ctx), credit, "command", entry)


@router.command(
    "route",
    usage="route <id>",
    summary="ask the experts now, when the library did not answer",
    example="route 12",
)
async def route(ctx: Context, cmd: Command) -> str:
    if len(cmd.argv) != 1:
        raise UsageError("Which question? For example: route 12")
    routed = await service.release(ctx, service.parse_id(cmd.argv[0]), _sender(ctx))
    return f"Question #{cmd.argv[0].lstrip('#')}: {routed}"


@router.command(
    "decline",
    usage="decline <id> [not my topic]",
    summary="pass a question on to the next expert",
    example="decline 12",
)
async def decline(ctx: Context, cmd: Command) -> str:
    if not cmd.argv:
        raise UsageError("Which question? For example: decline 12")
    question_id = service.parse_id(cmd.argv[0])
    reason = " ".join(w.lower() for w in cmd.argv[1:])
    if reason not in ("", "not my topic"):
        raise UsageError("Say `decline 12`, or `decline 12 not my topic`.")
    return await service.decline(ctx, question_id, _sender(ctx), bool(reason))


@router.command(
    "away",
    usage="away [until YYYY-MM-DD]",
    summary="pause routed questions (until `back` or a date)",
    example="away until 2026-12-24",
)
async def away(ctx: Context, cmd: Command) -> str:
    words = [w.lower() for w in cmd.argv]
    until = None
    if words:
        if words[0] != "until" or len(words) != 2:
            raise UsageError("Say `away`, or `away until 2026-12-24`.")
        until = _back_on(ctx, _sender(ctx).member, words[1])
    async with ctx.db() as session:
        member = await _sender(ctx).load(session)
        member.is_away = True
        member.away_until = until
        await session.commit()
    if until is None:
        return "You're away: I won't route questions to you until you type `back`."
    return (
        f"You're away until {cmd.argv[1]}: I won't route questions to you before then. "
        "`back` ends it sooner."
    )


def _back_on(ctx: Context, member: Member, text: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"`{text[:20]}` is not a date; write it like 2026-12-24.") from None
    zone = ZoneInfo(member.timezone or ctx.settings.timezone)
    back = datetime.combine(day, time(0, 0), tzinfo=zone)
    if back <= ctx.now():
        raise CommandError(f"{text} has already come; give a date in the future.")
    return back


@router.command("back", usage="back", summary="receive routed questions again")
async def back(ctx: Context, cmd: Command) -> str:
    if cmd.args.strip():
        raise UsageError("Just `back`.")
    async with ctx.db() as session:
        member = await _sender(ctx).load(session)
        was_away = member.is_away
        member.is_away = False
        member.away_until = None
        await session.commit()
    if not was_away:
        return "You weren't away: questions on your topics already reach you."
    return "Welcome back: questions on your topics reach you again."
