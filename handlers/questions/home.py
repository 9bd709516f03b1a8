"""The questions feature's sections of a member's home: their open questions (Solved) with
an Ask button, the questions routed to them (the buttons of the expert's message), and for
facilitators and coordinators the questions still unanswered after the SLA."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot import roles
from bot.commands import excerpt
from bot.context import Services
from bot.home import Viewer
from bot.i18n import Message, Number, _, n_
from bot.models import Member, Question, QuestionExpert
from bot.router import Router
from bot.types import Action, Item, Section
from handlers.questions.commands import _ago
from handlers.questions.service import ASKED, OPEN, actions, name_of

router = Router()

SHOWN = 5
TEXT = 120


def _status(question: Question) -> Message:
    if question.first_response_at is not None:
        return _("answered, open")
    return _("waiting for an answer")


@router.home("questions", order=20)
async def own(ctx: Services, viewer: Viewer) -> Section:
    async with ctx.db() as session:
        rows = (
            await session.scalars(
                select(Question)
                .where(Question.asker_id == viewer.member_id, Question.status == OPEN)
                .order_by(Question.asked_at.desc(), Question.id.desc())
                .limit(SHOWN + 1)
            )
        ).all()
    now = ctx.now()
    items = [Item(_mine(q, now), tuple(actions(q.id)[:1])) for q in rows[:SHOWN]]
    if len(rows) > SHOWN:
        items.append(Item(_("… and more: `questions mine` lists them all.")))
    return Section(
        _("Your open questions"),
        tuple(items),
        (Action(_("Ask a question"), "form ask"),),
        empty=_("You have no open questions."),
    )


@router.home("routed", order=25)
async def routed(ctx: Services, viewer: Viewer) -> Section | None:
    """Shown only when a question waits for the viewer."""
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(Question, Member)
                .join(QuestionExpert, QuestionExpert.question_id == Question.id)
                .join(Member, Member.id == Question.asker_id)
                .where(
                    QuestionExpert.member_id == viewer.member_id,
                    QuestionExpert.status == ASKED,
                    Question.status == OPEN,
                )
                .order_by(QuestionExpert.notified_at.desc(), Question.id.desc())
                .limit(SHOWN)
            )
        ).all()
    if not rows:
        return None
    return Section(
        _("Questions for you"),
        tuple(Item(_for_you(q, asker, ctx.now()), tuple(actions(q.id)[1:])) for q, asker in rows),
    )


@router.home("overdue", order=110, roles=[roles.FACILITATOR, roles.COORDINATOR])
async def overdue(ctx: Services, viewer: Viewer) -> Section:
    sla = ctx.settings.question_sla_hours
    late = (
        Question.status == OPEN,
        Question.first_response_at.is_(None),
        Question.asked_at <= ctx.now() - timedelta(hours=sla),
    )
    async with ctx.db() as session:
        total = await session.scalar(select(func.count()).select_from(Question).where(*late))
        rows = (
            await session.execute(
                select(Question, Member)
                .join(Member, Member.id == Question.asker_id)
                .where(*late)
                .order_by(Question.asked_at, Question.id)
                .limit(SHOWN)
            )
        ).all()
    items = [Item(_late(q, asker, ctx.now())) for q, asker in rows]
    if total and total > SHOWN:
        items.append(Item(n_("… and {n} more.", "… and {n} more.", total - SHOWN)))
    whole = float(sla).is_integer()
    hours = Number(sla, places=0 if whole else 1)
    title = n_("Unanswered after {hours} hour", "Unanswered after {hours} hours",
               int(sla) if whole else 2, hours=hours)  # fmt: skip
    return Section(
        title,
        tuple(items),
        empty=_("No question is waiting past its time."),
    )


def _mine(question: Question, now: datetime) -> Message:
    return _("#{id} · {status} · {ago} — {text}", id=question.id, status=_status(question),
             ago=_ago(now, question.asked_at), text=excerpt(question.text, TEXT))  # fmt: skip


def _for_you(question: Question, asker: Member, now: datetime) -> Message:
    return _("#{id} from {name} · {ago} — {text}", id=question.id, name=name_of(asker),
             ago=_ago(now, question.asked_at), text=excerpt(question.text, TEXT))  # fmt: skip


def _late(question: Question, asker: Member, now: datetime) -> Message:
    return _("#{id} · asked {ago} by {name} — {text}", id=question.id, name=name_of(asker),
             ago=_ago(now, question.asked_at), text=excerpt(question.text, TEXT))  # fmt: skip
