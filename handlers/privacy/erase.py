"""Erasing a member at their request (`forgetme confirm`), in one transaction.

What goes: the profile (a neutral name instead; the language too), every platform account's
link to the member, expertise, onboarding, link codes, roles, offers to route their messages,
the notes and profile snapshots of their expressions of interest, the text of their questions
and of their logged activity, the library entries they created, and their answers kept in
other entries.
What stays: the member row, nameless, with its activity rows (metadata only), event sign-ups
and expressions of interest (without text), so the community's counts stay right.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot import activity, audit
from bot.errors import CommandError
from bot.i18n import _
from bot.models import (
    Activity,
    CallInterest,
    Expertise,
    Identity,
    KnowledgeEntry,
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
    member.display_name = FORMER_MEMBER
    member.city = member.org = member.role_title = member.timezone = member.language = None
    member.is_away, member.away_until, member.erased_at = False, None, now
    audit.record(session, audit.FORGET, now, actor_id=member_id, subject_id=member_id)
    session.commit()
    return accounts
