"""Erasing a member at their request (`forgetme confirm`), in one transaction.

What goes: the profile (a neutral name instead; the language too), every platform account's
link to the member, expertise, onboarding, link codes, roles, offers to route their messages,
the notes and profile snapshots of their expressions of interest, the text of their questions
and of their logged activity, the library entries they created, their answers kept in other
entries, and their words in library candidates (a candidate they asked is dropped, and so is
one left with no answer). A fingerprint of each account stays (`bot.history.ERASED`), so
importing an old export does not bring their past back.
What stays: the member row, nameless, with its activity rows (metadata only), event sign-ups
and expressions of interest (without text), so the community's counts stay right.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, null, select, update
from sqlalchemy.orm import Session

from bot import activity, audit, history
from bot.errors import CommandError
from bot.i18n import _
from bot.models import (
    Activity,
    CallInterest,
    Expertise,
    Identity,
    KnowledgeEntry,
    LibraryCandidate,
    LinkCode,
    Member,
    Onboarding,
    Question,
    QuestionOffer,
    Role,
)
from bot.types import UserRef
from handlers.privacy.authorship import answers_by

# Stored in place of what is erased (data, the same for every reader), not said by Convener.
FORMER_MEMBER = "Former member"
ERASED = "(erased at the member's request)"
ERASED_ANSWER = "(an answer erased at its author's request)"

# Rows that are about the member alone: deleted whole.
OWN_ROWS = (Expertise, Onboarding, LinkCode, Role, QuestionOffer)


def erase(session: Session, member_id: int, now: datetime) -> list[UserRef]:
    """Erase a member (a unit of work: commits). Returns the platform accounts that were
    theirs, which are strangers from now on."""
    hold = activity.hold_writes(session)
    if hold is not None:
        session.execute(hold)
    member = session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise CommandError(_("There is nothing left to erase."))
    for entry, mine in answers_by(session, member_id):
        body = entry.body.split("\n")
        for n in mine:
            body[n] = ERASED_ANSWER
        entry.body = "\n".join(body)
    created = select(KnowledgeEntry.id).where(KnowledgeEntry.created_by == member_id)
    session.execute(
        update(Question)
        .where(Question.answered_by_entry.in_(created))
        .values(answered_by_entry=None)
    )
    session.execute(delete(KnowledgeEntry).where(KnowledgeEntry.created_by == member_id))
    session.execute(update(Question).where(Question.asker_id == member_id).values(text=ERASED))
    _erase_candidates(session, member_id, now)
    session.execute(update(Activity).where(Activity.member_id == member_id).values(text=None))
    session.execute(
        update(CallInterest)
        .where(CallInterest.member_id == member_id)
        .values(note="", city=None, org=None, role_title=None)
    )
    for model in OWN_ROWS:
        session.execute(delete(model).where(model.member_id == member_id))
    accounts = [
        UserRef(i.platform, i.user_id, i.display_name)
        for i in session.scalars(select(Identity).where(Identity.member_id == member_id))
    ]
    session.execute(delete(Identity).where(Identity.member_id == member_id))
    history.remember_erased(session, accounts, now)
    member.display_name = FORMER_MEMBER
    member.city = member.org = member.role_title = member.timezone = member.language = None
    member.is_away, member.away_until, member.erased_at = False, None, now
    audit.record(session, audit.FORGET, now, actor_id=member_id, subject_id=member_id)
    session.commit()
    return accounts


def _erase_candidates(session: Session, member_id: int, now: datetime) -> None:
    """The member's words in library candidates: a candidate they asked is dropped with its
    text; their answers leave the others, and a candidate left with none is dropped."""
    dropped = {"question": null(), "answers": null()}
    session.execute(
        update(LibraryCandidate)
        .where(LibraryCandidate.asked_by == member_id, LibraryCandidate.status == "open")
        .values(status="dropped", decided_at=now, **dropped)
    )
    session.execute(
        update(LibraryCandidate).where(LibraryCandidate.asked_by == member_id).values(**dropped)
    )
    held = session.execute(
        select(LibraryCandidate.id, LibraryCandidate.status, LibraryCandidate.answers).where(
            LibraryCandidate.answers.is_not(None)
        )
    ).all()
    for candidate_id, status, answers in held:
        left = [a for a in answers or [] if a.get("member_id") != member_id]
        if len(left) == len(answers or []):
            continue
        if left:
            values: dict = {"answers": left}
        elif status == "open":
            values = {"status": "dropped", "decided_at": now, **dropped}
        else:
            values = dropped
        session.execute(
            update(LibraryCandidate).where(LibraryCandidate.id == candidate_id).values(**values)
        )
