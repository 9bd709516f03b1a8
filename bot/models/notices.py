"""The outbox: every notice that is not the immediate reply to a command is a row first
(`bot.outbox` delivers the rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class Notice(Base):
    """One notice, sent once across restarts and replicas: a reminder, a start post, a
    call's DM, a routed question, a digest, a prompt. Unique by `subject` (`event:<id>`,
    `question:<id>`), `kind` and `member_id` (0 for a post in a channel), so asking twice
    queues it once; the feature named before the colon may be told when it is sent
    (`bot.router.Router.delivered`). `actions` are its buttons (`[label, command]` pairs);
    `attachment` a file sent with it (`{"filename", "mimetype", "text"}`: an invitation).

    `recipient` orders delivery (`m:<member id>` or `c:<platform>:<channel id>`): a row goes
    only once every earlier row to the same recipient has. A sender claims a row until
    `claimed_until`; `due_at` holds a retry back. Rows from before the outbox are `sent`."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("subject", "kind", "member_id", name="uq_notice"),
        Index("ix_notices_due", "state", "due_at"),
        Index("ix_notices_recipient", "recipient", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8), default=SENT, server_default=SENT)
    recipient: Mapped[str | None] = mapped_column(String(300))
    platform: Mapped[str | None] = mapped_column(String(16))
    channel_id: Mapped[str | None] = mapped_column(String(255))
    channel_name: Mapped[str | None] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[list | None] = mapped_column(JSON)
    attachment: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_token: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
