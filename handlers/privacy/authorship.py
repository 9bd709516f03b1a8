"""Which parts of the library a member wrote.

A kept question's body is the question, a blank line, then one line per answer, `<author's
display name>: <answer on one line>` (handlers/knowledge/keeping.py); a thread kept without
a question (chosen by a facilitator, or a library candidate from imported history) has the
same shape, its first paragraph standing for the question. An answer is attributed to a
member when its line starts with one of the member's names (their display name, an account's
name or user id) and the member replied in that entry's thread (the activity log), so a
namesake's answers elsewhere are left alone. A name the member had before renaming is not
known, so answers kept under it are not found.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.models import Activity, Identity, KnowledgeEntry, Member, Question


def names_of(session: Session, member_id: int) -> set[str]:
    """Every name the member's answers may have been kept under."""
    names = {session.scalar(select(Member.display_name).where(Member.id == member_id))}
    for display_name, user_id in session.execute(
        select(Identity.display_name, Identity.user_id).where(Identity.member_id == member_id)
    ):
        names.update((display_name, user_id))
    return {name for name in names if name}


def answers_by(session: Session, member_id: int) -> list[tuple[KnowledgeEntry, dict[int, str]]]:
    """The kept questions holding answers by the member (not ones they asked), each with the
    member's answers by the number of their line in the body."""
    prefixes = tuple(f"{name}: " for name in names_of(session, member_id))
    replied = exists().where(
        Activity.member_id == member_id,
        Activity.kind == "reply",
        Activity.channel_id == KnowledgeEntry.channel_id,
        Activity.thread_id == KnowledgeEntry.message_id,
    )
    rows = session.execute(
        select(KnowledgeEntry, Question.text)
        .outerjoin(Question, Question.id == KnowledgeEntry.question_id)
        .where(replied, KnowledgeEntry.created_by.is_distinct_from(member_id))
        .order_by(KnowledgeEntry.id)
    )
    found = []
    for entry, question in rows:
        if question is not None:
            first_answer = question.count("\n") + 2  # the question's lines, then a blank one
        elif "\n\n" in entry.body:  # a thread kept without a question: its first paragraph
            first_answer = entry.body.split("\n\n", 1)[0].count("\n") + 2
        else:
            continue
        lines = entry.body.split("\n")
        mine = {
            n: lines[n][len(prefix) :]
            for n in range(first_answer, len(lines))
            for prefix in prefixes
            if lines[n].startswith(prefix)
        }
        if mine:
            found.append((entry, mine))
    return found
