"""The guided welcome conversation in direct messages, and introductions when it ends.

The welcome (handlers/welcome.py) opens the conversation with `start` and the first question.
Each later direct message from that member is an answer to the current question, kept in the
`onboarding` table so a restart continues where it was. `skip` skips a question, `stop` ends,
and `language <code>` (at any question) sets the member's language and asks the question
again in it.

Choices:
- A bare command typed during the conversation (`help`, `topics`, `expertise add budget`) is
  run as a command, not taken as an answer, when it is a single command word or starts with a
  command of two words or more, and one the member may use; then the current question is asked
  again. Anything else is an answer (so "report writing" or "Audit" is a topic, not the
  `report` or `audit` command).
- `language` followed by something shaped like a language code (`fr`, `pt-BR`) is taken as
  `language <code>`, even a code Convener does not speak (it then names those it does);
  `language policy` is an answer like any other.
- No reminders: each question is asked once. A conversation nobody answered for
  `LAPSE_DAYS` lapses, and later direct messages are treated as usual.
- The same questions are a form (`form onboarding`, a button on the first question on
  Slack): sending it runs the profile's own commands and ends the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot import expertise, forms, i18n, languages, members, roles, topics
from bot.commands import clean, split_words
from bot.context import Context
from bot.db import upsert
from bot.errors import UsageError
from bot.forms import Field, Form
from bot.i18n import N_, Text, _, join, lines, n_
from bot.i18n import Message as Said  # bot.types.Message is an inbound message
from bot.models import Expertise, Identity, Member, Onboarding, Topic
from bot.router import Router
from bot.textkey import CITY_KEY_LENGTH, fold
from bot.types import Action, FieldKind, Message, UserRef
from bot.watch import Watch, sender
from handlers import knowledge as library

router = Router()

ACTIVE, DONE, STOPPED, LAPSED = "active", "done", "stopped", "lapsed"
LAPSE_DAYS = 14
SKIP_WORDS = {"skip", "pass", "next", "-", "none", "n/a"}
STOP_WORDS = {"stop", "quit", "cancel", "exit", "end"}
MAX_INTRODUCTIONS = 3
HINT = _("(Answer here. `skip` skips a question, `stop` ends.)")
LANGUAGE_WORD = "language"
_CODE_SHAPE = re.compile(r"[a-z]{2}(?:[-_][a-z0-9]{2,8})?", re.IGNORECASE)

Saver = Callable[[AsyncSession, Member, str, datetime], Awaitable[Said]]


async def _save_city(session: AsyncSession, member: Member, text: str, now: datetime) -> Said:
    return _("Noted: {value}.", value=members.set_text_field(member, "city", text))


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


async def _save_org_role(session: AsyncSession, member: Member, text: str, now: datetime) -> Said:
    """A bad role after a good organisation raises; the caller rolls both back."""
    org, role = split_org_role(text)
    saved_org = members.set_text_field(member, "org", org)
    if role is None:
        return _("Noted: {value}.", value=saved_org)
    saved_role = members.set_text_field(member, "role", role)
    return _("Noted: {role} at {org}.", role=saved_role, org=saved_org)


def _topic_saver(kind: str, noted: str) -> Saver:
    """Saves topics of `kind`; `noted` is the message (`N_`) that says so, with `{topics}`."""

    async def save(session: AsyncSession, member: Member, text: str, now: datetime) -> Said:
        stored, _new = await expertise.add_expertise(
            session, member.id, topics.split_names(text), kind, now
        )
        return Text(noted, {"topics": ", ".join(stored)})

    return save


@dataclass(frozen=True, slots=True)
class Step:
    text: Said
    save: Saver = field(repr=False)


STEPS = (
    Step(_("Which city do you work in?"), _save_city),
    Step(
        _("Which organisation do you work for, and what is your role there? "
          "(for example: City of Kisumu, budget officer)"),
        _save_org_role,
    ),
    Step(
        _("Which topics can you help others with? Separate them with commas "
          "(for example: budgeting, procurement)."),
        _topic_saver(expertise.OFFERS, N_("Noted that you can help with: {topics}.")),
    ),
    Step(
        _("And which topics would you like to learn more about?"),
        _topic_saver(expertise.WANTS, N_("Noted what you want to learn: {topics}.")),
    ),
)  # fmt: skip


def question(step: int) -> Said:
    return _("Question {number} of {total}: {question}",
             number=step + 1, total=len(STEPS), question=STEPS[step].text)  # fmt: skip


def opening() -> Said:
    """The first question, as the welcome sends it (and, when Convener speaks more than one
    language, how to answer in another)."""
    return lines(
        n_("I have {n} quick question so that others can find you.",
           "I have {n} quick questions so that others can find you.", len(STEPS)),
        question(0),
        HINT,
        _("To answer in another language, type `language <code>`: {languages}.",
          languages=languages.offered()) if len(i18n.available()) > 1 else None,
    )  # fmt: skip


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
    given = _language_asked(text)
    if given is not None:
        await ctx.platform.send(event.channel, await _change_language(ctx, step, given))
        return True
    if _meant_command(ctx, text):
        await ctx.router.run_command(ctx, event, text)
        await ctx.platform.send(
            event.channel, _("When you are ready: {question}", question=question(step))
        )
        return True
    answer = await _answer(ctx, step, text)
    if answer:
        await ctx.platform.send(event.channel, answer)
    return True


def _language_asked(text: str) -> str | None:
    """The code in an answer `language <code>`; None when the answer is something else."""
    words = text.split()
    if len(words) != 2 or words[0].lower() != LANGUAGE_WORD:
        return None
    given = words[1].strip(" .!")
    return given if i18n.code(given) or _CODE_SHAPE.fullmatch(given) else None


async def _change_language(ctx: Context, step: int, given: str) -> Said:
    """Set the member's language and ask the current question again, now in it (a language
    Convener does not speak changes nothing: the languages it speaks, and the question)."""
    code = i18n.code(given)
    if code is None:
        return lines(languages.not_a_language(given), question(step))
    return lines(await languages.speak(ctx, code), question(step))


async def _answer(ctx: Context, step: int, text: str) -> Said | None:
    """Store one answer and say what comes next (None if another delivery got there first)."""
    now = ctx.now()
    word = text.lower().strip(" .!")
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        if word in STOP_WORDS:
            ack, status, new_step = _("All right, no more questions."), STOPPED, step
        else:
            if word in SKIP_WORDS:
                ack = _("Skipped.")
            else:
                try:
                    ack = await STEPS[step].save(session, member, text, now)
                except UsageError as exc:
                    await session.rollback()
                    return lines(exc.message, question(step))
            new_step = step + 1
            status = DONE if new_step >= len(STEPS) else ACTIVE
        if not await _move(session, member.id, step, new_step, status, now):
            await session.rollback()
            return None
        if status == ACTIVE:
            await session.commit()
            return lines(ack, question(new_step))
        suggestions = await introductions(session, member)
        reading = await library.for_learning(session, member.id)
        await session.commit()
    ctx.unwatch(CONVERSATIONS, ctx.sender.user.platform, ctx.sender.user.id)
    if status == DONE:
        closing = _("Thank you, that's all! Type `profile` to see your profile.")
    else:
        closing = _(
            "You can fill in your profile any time: `profile city <name>`, `expertise add <topic>`."
        )
    return lines(ack, closing, suggestions, reading or None)


@dataclass
class Suggestion:
    """A member worth meeting, with a score and the reasons (weight, text)."""

    member: Member
    score: int = 0
    reasons: list[tuple[int, Said]] = field(default_factory=list)

    def add(self, weight: int, reason: Said) -> None:
        self.score += weight
        self.reasons.append((weight, reason))


_TOPIC_REASONS = {  # (theirs, mine): (weight, the reason, with {topic})
    (expertise.OFFERS, expertise.WANTS): (3, N_("can help with {topic}, which you want to learn")),
    (expertise.WANTS, expertise.OFFERS): (2, N_("wants to learn {topic}, which you can help with")),
    (expertise.OFFERS, expertise.OFFERS): (1, N_("also helps with {topic}")),
    (expertise.WANTS, expertise.WANTS): (1, N_("also wants to learn {topic}")),
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
        candidates.setdefault(other.id, Suggestion(other)).add(
            weight, Text(reason, {"topic": topic})
        )
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
            candidates.setdefault(other.id, Suggestion(other)).add(
                1, _("also in {city}", city=other.city)
            )
    ranked = sorted(candidates.values(), key=lambda c: (-c.score, c.member.display_name.lower()))
    return ranked[:limit]


async def introductions(session: AsyncSession, member: Member) -> Said:
    """A few lines suggesting members to meet, or a pointer to `experts` if there are none."""
    chosen = await suggest(session, member)
    if not chosen:
        return _("Type `experts <topic>` any time to find people who can help.")
    shown = []
    for candidate in chosen:
        reasons = [r for _weight, r in sorted(candidate.reasons, key=lambda wr: -wr[0])][:2]
        name = candidate.member.display_name
        shown.append(_("• {name}: {reasons}", name=name, reasons=join(reasons, "; ")))
    return lines(_("People you might like to meet:"), *shown)


# The same questions as one form (a button on the welcome on Slack): its commands save the
# answers; sending it ends the conversation.

FORM_ACTIONS = (Action(_("Answer in a form"), "form onboarding"),)


async def _finish(ctx: Context) -> Said:
    """The conversation ends (if it was open), with its closing: who to meet, what to read."""
    now = ctx.now()
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        ended = await session.execute(
            update(Onboarding)
            .where(Onboarding.member_id == member.id, Onboarding.status == ACTIVE)
            .values(status=DONE, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        suggestions = await introductions(session, member)
        reading = await library.for_learning(session, member.id)
        await session.commit()
    if ended.rowcount:
        ctx.unwatch(CONVERSATIONS, ctx.sender.user.platform, ctx.sender.user.id)
    return lines(_("Thank you, that's all! Type `profile` to see your profile."), suggestions,
                 reading or None)  # fmt: skip


def _text_field(name: str, field: str, label: Said) -> Field:
    return Field(name=name, kind=FieldKind.SHORT, label=label, command=f"profile {field}",
                 to="value", optional=True, limit=members.TEXT_FIELDS[field].limit)  # fmt: skip


router.form(Form(
    name="onboarding",
    title=_("Welcome"),
    submit=_("Done"),
    fields=(
        _text_field("city", "city", _("Which city do you work in?")),
        _text_field("org", "org", _("Which organisation do you work for?")),
        _text_field("role", "role", _("What is your role there?")),
        Field(name="timezone", kind=FieldKind.ZONE, label=_("Time zone"),
              command="profile timezone", to="zone", optional=True),
        Field(name="language", kind=FieldKind.LANGUAGE, label=_("Language"),
              command="profile language", to="code", optional=True,
              hint=_("The language I use with you.")),
        Field(name="offers", kind=FieldKind.MULTI_NEW,
              label=_("Which topics can you help others with?"), command="expertise add",
              to="topics", optional=True, options=forms.topic_choices),
        Field(name="wants", kind=FieldKind.MULTI_NEW,
              label=_("And which topics would you like to learn more about?"),
              command="expertise learn", to="topics", optional=True,
              options=forms.topic_choices),
    ),
    prefill=forms.profile,
    after=_finish,
))  # fmt: skip
