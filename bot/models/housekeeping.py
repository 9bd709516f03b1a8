"""Housekeeping rows: small key-value state, the weekly digest's runs, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class KeyValue(Base):
    """Small pieces of state: adapter tokens, the welcome template, and the like."""

    __tablename__ = "kv"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class DigestRun(Base):
    """The weekly digest sent to one facilitator for one slot: claimed before sending, so it
    goes out once per week across restarts and replicas."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("slot", "member_id", name="uq_digest_run_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[datetime]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime]


class AuditEntry(Base):
    """Something done to members' roles, accounts or data: a role change, a link or unlink,
    an erasure, a report pull. `actor_id` is who did it (None: the configuration or the
    command line); `subject_id` the member it was done to."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
