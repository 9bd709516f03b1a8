"""Learning events and calls for expressions of interest: their topics, answers and
interests, and the notices sent about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class Event(Base):
    """A learning event (deep dive, master class, webinar, study visit) announced in a
    channel; `starts_at` in UTC, shown in `timezone`. `sequence` counts its changes (a move, a
    cancellation), as calendar invitations' SEQUENCE."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    message_id: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EventTopic(Base):
    __tablename__ = "event_topics"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class EventRsvp(Base):
    """A member's answer to an event: yes, no or maybe (the latest counts)."""

    __tablename__ = "event_rsvps"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    answer: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[datetime]


class Call(Base):
    """A call for expressions of interest, open until `deadline` (the end of its day in
    community time, stored in UTC)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[datetime] = mapped_column(index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    message_id: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CallTopic(Base):
    __tablename__ = "call_topics"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class CallInterest(Base):
    """A member's expression of interest in a call, with their profile as it was when they
    expressed it; `withdrawn_at` set when they withdrew it."""

    __tablename__ = "call_interests"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    note: Mapped[str] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(80))
    org: Mapped[str | None] = mapped_column(String(120))
    role_title: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
