"""The community's past brought in (`convener import`): the files and pages already imported,
and the answered threads found in them that are offered to the library."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class ImportedUnit(Base):
    """One file of an export (or one page of a room's history) written whole: an import cut
    short resumes after the last one, and a file seen again unchanged is skipped. `key` is
    the SHA-256 of the source, the file's path and its content."""

    __tablename__ = "imported_units"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(512))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime]


class LibraryCandidate(Base):
    """A past thread that looks like an answered question, offered to facilitators
    (`library candidates`). Its text (the question and the answers, each answer with its
    author's member id, `[{"member_id", "text"}]`) is kept only while it waits: keeping,
    dropping or 30 days clear it, and the row stays so a later import does not offer it
    again. `signal`: what showed it answered (`reaction`: the asker's ✅; `thanks`)."""

    __tablename__ = "library_candidates"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id", name="uq_library_candidate_thread"),
        Index("ix_library_candidates_status_found", "status", "found_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(255))
    asked_by: Mapped[int | None] = mapped_column(Integer, index=True)
    asked_at: Mapped[datetime]
    question: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[list | None] = mapped_column(JSON)
    signal: Mapped[str] = mapped_column(String(16))
    found_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8), default="open")
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(Integer)
