"""Channels and the activity log (append-only metadata of what members did; message text
only when `CONVENER_STORE_MESSAGE_TEXT` is on), with the claims on handled inbound events and
the dead letters of rows that could not be stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    is_direct: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))


class Activity(Base):
    """One thing a member did. `kind` is message, reply, reaction, join, leave or command;
    `asks`: a message in a channel, not in a thread, ending with a question mark."""

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("platform", "event_id", name="uq_activity_event"),
        Index("ix_activity_ts_member_channel_kind", "ts", "member_id", "channel_id", "kind"),
        Index("ix_activity_member_ts_kind", "member_id", "ts", "kind"),
        Index("ix_activity_thread", "channel_id", "thread_id"),
        Index(
            "ix_activity_asks",
            "ts",
            sqlite_where=sql("asks"),
            postgresql_where=sql("asks"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    member_id: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(Text)
    asks: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class HandledEvent(Base):
    """Claims on inbound events that trigger work, so each is acted on once across
    retries, restarts and replicas."""

    __tablename__ = "handled_events"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    handled_at: Mapped[datetime]


class ActivityDeadLetter(Base):
    """An activity row that could not be stored (its values as JSON, and the error), kept so
    one bad row never blocks the rest and nothing is silently lost."""

    __tablename__ = "activity_dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    failed_at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    row: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
