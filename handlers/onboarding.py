"""The guided welcome conversation in direct messages, and introductions when it ends.

The welcome (handlers/welcome.py) opens the conversation with `start` and the first question.
Each later direct message from that member is an answer to the current question, kept in the
`onboarding` table so a restart continues where it was. `skip` skips a question, `stop` ends.

Choices:
- A bare command typed during the conversation (`help`, `topics`, `expertise add budget`) is
  run as a command, not taken as an answer, when it is a single command word or starts with a
  command of two words or more, and one the member may use; then the current question is asked
  again. Anything else is an answer (so "report writing" or "Audit" is a topic, not the
  `report` or `audit` command).
- No reminders: each question is asked once. A conversation nobody answered for
  `LAPSE_DAYS` lapses, and later direct messages are treated as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot import expertise, members, roles, topics
from bot.commands import clean, split_words
from bot.context import Context
from bot.db import upsert
from bot.errors import UsageError
from bot.models import Expertise, Identity, Member, Onboarding, Topic
from bot.router import Router
from bot.textkey import CITY_KEY_LENGTH, fold
from bot.types import Message, UserRef
from bot.watch import Watch, sender
from handlers import knowledge as library

router = Router()

ACTIVE, DONE, STOPPED, LAPSED = "active", "done", "stopped", "lapsed"
LAPSE_DAYS = 14
SKIP_WORDS = {"skip", "pass", "next", "-", "none", "n/a"}
STOP_WORDS = {"stop", "quit", "cancel", "exit", "end"}
MAX_INTRODUCTIONS = 3
HINT = "(Answer here. `skip` skips a question, `stop` ends.)"

Saver = Callable[[AsyncSession, Member, str, datetime], Awaitable[str]]


async def _save_city(session: AsyncSession, member: Member, text: str, now: datetime) -> str:
    return f"Noted: {members.set_text_field(member, 'city', text)}."


def split_org_role(text: str) -> tuple[str, str | None]:
    """'City of Kisumu, budget officer' or 'budget officer at City of Kisumu' -> (org, role)."""
    text = " ".join(text.split())
    org, comma, role = text.partition(",")
    if comma and role.strip():
        return org.strip(), role.strip()
    role, at, org = text.partition(" at ")
    if at and role.strip() and org.strip():
        return org.strip(), role.strip()
    return text, None


async def _save_org_role(session: AsyncSession, member: Member, text: str, now: datetime) -> str:
    """A bad role after a good organisation raises; the caller rolls both back."""
    org, role = split_org_role(text)
    saved_org = members.set_text_field(member, "org", org)
    if role is None:
        return f"Noted: {saved_org}."
    return f"Noted: {members.set_text_field(member, 'role', role)} at {saved_org}."


def _topic_saver(kind: str, label: str) -> Saver:
    async def save(session: AsyncSession, member: Member, text: str, now: datetime) -> str:
        stored, _ = await expertise.add_expertise(
            session, member.id, topics.split_names(text), kind, now
        )
        return f"Noted {label}: {', '.join(stored)}."

    return save


@dataclass(frozen=True, slots=True)
class Step:
    text: str
    save: Saver = field(repr=False)


STEPS = (
    Step("Which city do you work in?", _save_city),
    Step(
        "Which organisation do you work for, and what is your role there? "
        "(for example: City of Kisumu, budget officer)",
        _save_org_role,
    ),
    Step(
        "Which topics can you help others with? Separate them with commas "
        "(for example: budgeting, procurement).",
        _topic_saver(expertise.OFFERS, "that you can help with"),
    ),
    Step(
        "And which topics would you like to learn more about?",
        _topic_saver(expertise.WANTS, "what you want to learn"),
    ),
)


def question(step: int) -> str:
    return f"Question {step + 1} of {len(STEPS)}: {STEPS[step].text}"


def opening() -> str:
    """The first question, as the welcome sends it."""
    return (
        f"I have {len(STEPS)} quick questions so that others can find you.\n{question(0)}\n{HINT}"
    )


_START: dict[str, object] = {}


def _start_statement(session: Session):
    """The upsert that opens a conversation, built once per dialect (its compiled form and
    cache key are then reused)."""
    dialect = session.get_bind().dialect.name
    statement = _START.get(dialect)
    if statement is None:
        table = Onboarding.__table__
        opened = ("platform", "user_id", "step", "status", "updated_at")
        statement = upsert(session, table)
        statement = _START[dialect] = statement.on_conflict_do_update(
            index_elements=[table.c.member_id],
            set_={name: statement.excluded[name] for name in opened},
        )
    return statement


def start(session: Session, member_id: int, user: UserRef, now: datetime) -> None:
    """Open (or reopen) the conversation at the first question, in a unit of work. Never
    commits."""
    session.execute(
        _start_statement(session),
        {"member_id": member_id, "platform": user.platform, "user_id": user.id, "step": 0,
         "status": ACTIVE, "started_at": now, "updated_at": now, "reminders": 0},
    )  # fmt: skip


def _in_conversation(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(Identity.platform, Identity.user_id)
        .join(Onboarding, Onboarding.member_id == Identity.member_id)
        .where(Onboarding.status == ACTIVE)
    )
    if since is not None:
        query = query.where(Onboarding.updated_at >= since)
    return [(platform, user_id) for platform, user_id in session.execute(query)]


CONVERSATIONS = Watch("onboarding conversations", _in_conversation, sender)
"""Members in the onboarding conversation: their direct messages are its answers."""


async def forget(session: AsyncSession, member_id: int) -> None:
    row = await session.get(Onboarding, member_id)
    if row is not None:
        await session.delete(row)


async def _current(session: AsyncSession, user: UserRef) -> Onboarding | None:
    return await session.scalar(
        select(Onboarding)
        .join(Identity, Identity.member_id == Onboarding.member_id)
        .where(
            Identity.platform == user.platform,
            Identity.user_id == user.id,
            Onboarding.status == ACTIVE,
        )
    )


async def _move(
    session: AsyncSession, member_id: int, step: int, new_step: int, status: str, now: datetime
) -> bool:
    """Advance from `step`; False if another delivery advanced it first."""
    result = await session.execute(
        update(Onboarding)
        .where(
            Onboarding.member_id == member_id,
            Onboarding.step == step,
            Onboarding.status == ACTIVE,
        )
        .values(step=new_step, status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _meant_command(ctx: Context, text: str) -> bool:
    if ctx.router is None:
        return False
    words = split_words(text)
    spec, consumed = ctx.router.find(words) if words else (None, 0)
    if spec is None or not (consumed >= 2 or len(words) == 1):
        return False
    held = ctx.sender.roles
    return roles.permits(held, spec.roles)  # "Audit" is a topic to a member, not `audit`


@router.on(Message, when=lambda event: event.channel.is_direct, watch=CONVERSATIONS)
async def converse(ctx: Context, event: Message) -> bool:
    """Take a direct message as the answer to the member's current question, if any."""
    now = ctx.now()
    async with ctx.db() as session:
        row = await _current(session, event.user)
        if row is None:
            return False
        if now - row.updated_at > timedelta(days=LAPSE_DAYS) or row.step >= len(STEPS):
            row.status = LAPSED
            await session.commit()
            ctx.unwatch(CONVERSATIONS, event.user.platform, event.user.id)
            return False
        step = row.step
    text = clean(event.text)
    if _meant_command(ctx, text):
        await ctx.router.run_command(ctx, event, text)
        await ctx.platform.send(event.channel, f"When you are ready: {question(step)}")
        return True
    answer = await _answer(ctx, step, text)
    if answer:
        await ctx.platform.send(event.channel, answer)
    return True


async def _answer(ctx: Context, step: int, text: str) -> str | None:
    """Store one answer and say what comes next (None if another delivery got there first)."""
    now = ctx.now()
    word = text.lower().strip(" .!")
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        if word in STOP_WORDS:
            ack, status, new_step = "All right, no more questions.", STOPPED, step
        else:
            if word in SKIP_WORDS:
                ack = "Skipped."
            else:
                try:
                    ack = await STEPS[step].save(session, member, text, now)
                except UsageError as exc:
                    await session.rollback()
                    return f"{exc}\n{question(step)}"
            new_step = step + 1
            status = DONE if new_step >= len(STEPS) else ACTIVE
        if not await _move(session, member.id, step, new_step, status, now):
            await session.rollback()
            return None
        if status == ACTIVE:
            await session.commit()
            return f"{ack}\n{question(new_step)}"
        suggestions = await introductions(session, member)
        reading = await library.for_learning(session, member.id)
        await session.commit()
    ctx.unwatch(CONVERSATIONS, ctx.sender.user.platform, ctx.sender.user.id)
    if status == DONE:
        closing = "Thank you, that's all! Type `profile` to see your profile."
    else:
        closing = (
            "You can fill in your profile any time: `profile city <name>`, `expertise add <topic>`."
        )
    return "\n".join(part for part in (ack, closing, suggestions, reading) if part)


@dataclass
class Suggestion:
    """A member worth meeting, with a score and the reasons (weight, text)."""

    member: Member
    score: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)

    def add(self, weight: int, reason: str) -> None:
        self.score += weight
        self.reasons.append((weight, reason))


_TOPIC_REASONS = {
    (expertise.OFFERS, expertise.WANTS): (3, "can help with {}, which you want to learn"),
    (expertise.WANTS, expertise.OFFERS): (2, "wants to learn {}, which you can help with"),
    (expertise.OFFERS, expertise.OFFERS): (1, "also helps with {}"),
    (expertise.WANTS, expertise.WANTS): (1, "also wants to learn {}"),
}


async def suggest(
    session: AsyncSession, member: Member, limit: int = MAX_INTRODUCTIONS
) -> list[Suggestion]:
    """Members worth meeting, best first, each with the reasons: shared topics (someone who
    can help with what this member wants to learn counts most) and the same city."""
    mine, theirs = aliased(Expertise), aliased(Expertise)
    rows = await session.execute(
        select(Member, theirs.kind, mine.kind, Topic.name)
        .join(theirs, theirs.member_id == Member.id)
        .join(mine, mine.topic_id == theirs.topic_id)
        .join(Topic, Topic.id == theirs.topic_id)
        .where(mine.member_id == member.id, Member.id != member.id, Member.is_bot.is_(False))
        .order_by(Member.id, Topic.key)
        .limit(500)
    )
    candidates: dict[int, Suggestion] = {}
    for other, their_kind, my_kind, topic in rows:
        weight, reason = _TOPIC_REASONS[(their_kind, my_kind)]
        candidates.setdefault(other.id, Suggestion(other)).add(weight, reason.format(topic))
    city_key = fold(member.city, CITY_KEY_LENGTH)
    if city_key:
        neighbours = await session.scalars(
            select(Member)
            .where(
                Member.city_key == city_key,
                Member.id != member.id,
                Member.is_bot.is_(False),
            )
            .order_by(Member.id)
            .limit(50)
        )
        for other in neighbours:
            candidates.setdefault(other.id, Suggestion(other)).add(1, f"also in {other.city}")
    ranked = sorted(candidates.values(), key=lambda c: (-c.score, c.member.display_name.lower()))
    return ranked[:limit]


async def introductions(session: AsyncSession, member: Member) -> str:
    """A few lines suggesting members to meet, or a pointer to `experts` if there are none."""
    chosen = await suggest(session, member)
    if not chosen:
        return "Type `experts <topic>` any time to find people who can help."
    lines = ["People you might like to meet:"]
    for candidate in chosen:
        reasons = [r for _, r in sorted(candidate.reasons, key=lambda wr: -wr[0])][:2]
        lines.append(f"• {candidate.member.display_name}: {'; '.join(reasons)}")
    return "\n".join(lines)
