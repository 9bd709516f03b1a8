"""Discussion prompts: the queue, the schedules that post them, and each posting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class Prompt(Base):
    """A discussion prompt in the queue; `used_at` is set when it is posted."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PromptSchedule(Base):
    __tablename__ = "prompt_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    time_of_day: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PromptRun(Base):
    """One posting of a prompt; replies in its thread are the responses."""

    __tablename__ = "prompt_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "slot", name="uq_prompt_run_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="SET NULL"))
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    slot: Mapped[datetime | None]
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    message_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(index=True)
