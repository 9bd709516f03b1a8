"""Questions asked with `ask`, their topics, the experts told, offers to route a question,
and the knowledge library with its topics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column

from bot import stemming
from bot.models.base import Base


class Question(Base):
    """A question asked with `ask`: posted in `channel_id` as `message_id` (the root of its
    thread, where answers go). `escalations`: 0, 1 (more experts asked), 2 (facilitators
    told)."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_status_asked", "status", "asked_at"),
        Index("ix_questions_message", "channel_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    message_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    solved_at: Mapped[datetime | None]
    solved_by: Mapped[int | None] = mapped_column(Integer)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    last_escalated_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_responder_id: Mapped[int | None] = mapped_column(Integer)
    held_until: Mapped[datetime | None]
    answered_by_entry: Mapped[int | None] = mapped_column(Integer)


class QuestionTopic(Base):
    __tablename__ = "question_topics"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class QuestionExpert(Base):
    """Someone told about a question: an expert asked (`asked`, later `declined`) or a
    facilitator told (`facilitator`). One row per person and question: nobody is told
    twice, whichever process tells them."""

    __tablename__ = "question_experts"
    __table_args__ = (Index("ix_question_experts_member", "member_id", "notified_at"),)

    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    notified_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="asked")
    round: Mapped[int] = mapped_column(Integer, default=0)


class QuestionOffer(Base):
    """An offer, made once in the thread of an unanswered question-like message, to route it
    to experts; `question_id` once the member accepted."""

    __tablename__ = "question_offers"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id", name="uq_question_offer_message"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    offered_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="offered")
    offer_message_id: Mapped[str | None] = mapped_column(String(255))
    question_id: Mapped[int | None] = mapped_column(Integer)


class KnowledgeEntry(Base):
    """The library: a solved question with the answers in its thread (`question_id` set,
    linked to its thread by `channel_id` and `message_id`), or a resource a facilitator
    curated (`url` set). `shown`: how often it was offered in search results and at `ask`;
    `answered`: how many questions it answered.

    `language`: the language it is written in (detected, else its adder's); `title_terms`
    and `body_terms`: its title and body stemmed in that language (`bot.stemming.terms`),
    set on every ORM write (below). Searched through the database's full-text index over
    those (`knowledge_fts` on SQLite, the `search` tsvector on PostgreSQL; migration 0013).
    A writer that bypasses the ORM (a bulk insert) sets them itself."""

    __tablename__ = "knowledge_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL"), unique=True
    )
    url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(16), server_default=stemming.DEFAULT)
    title_terms: Mapped[str] = mapped_column(Text, default="", server_default="")
    body_terms: Mapped[str] = mapped_column(Text, default="", server_default="")


@event.listens_for(KnowledgeEntry, "before_insert")
def _index_new_entry(_mapper, _connection, entry: KnowledgeEntry) -> None:
    text = f"{entry.title}\n{entry.body or ''}"
    entry.language = stemming.supported(entry.language) or stemming.detect(text, stemming.DEFAULT)
    _index(entry)


@event.listens_for(KnowledgeEntry, "before_update")
def _index_changed_entry(_mapper, _connection, entry: KnowledgeEntry) -> None:
    state = inspect(entry)
    if any(state.attrs[name].history.has_changes() for name in ("title", "body", "language")):
        entry.language = stemming.supported(entry.language) or stemming.DEFAULT
        _index(entry)


def _index(entry: KnowledgeEntry) -> None:
    entry.title_terms = stemming.terms(entry.title, entry.language)
    entry.body_terms = stemming.terms(entry.body or "", entry.language)


class KnowledgeTopic(Base):
    __tablename__ = "knowledge_topics"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_entries.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
