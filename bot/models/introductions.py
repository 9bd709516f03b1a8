"""Introductions between members of different cities: the facilitators' rhythm, each round,
the groups it made (a pair, or a trio) and whether each member said they met."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class IntroSchedule(Base):
    """The rhythm facilitators set (`intros on every <n> weeks`): one row (`id` 1).
    `next_round_at` is when the next round is due."""

    __tablename__ = "intro_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    every_weeks: Mapped[int] = mapped_column(Integer, default=2)
    next_round_at: Mapped[datetime | None]
    updated_by: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class IntroRound(Base):
    """One round of introductions, unique by its `slot` (the moment it was due, or the
    moment of `intros now`), so that it runs once across restarts and replicas.
    `follow_up_at` is halfway to the next round."""

    __tablename__ = "intro_rounds"
    __table_args__ = (UniqueConstraint("slot", name="uq_intro_round_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(index=True)
    started_by: Mapped[int | None] = mapped_column(Integer)
    follow_up_at: Mapped[datetime | None] = mapped_column(index=True)
    followed_up_at: Mapped[datetime | None]


class IntroGroup(Base):
    """Two or three members introduced to each other in one round, and the conversation
    that introduced them (`platform`/`channel_id`; none when they share no platform and were
    each told by direct message)."""

    __tablename__ = "intro_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("intro_rounds.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    platform: Mapped[str | None] = mapped_column(String(16))
    channel_id: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))


class IntroMember(Base):
    """A member of an introduction, with their city then (for the Connections sheet) and
    their answer to "did you meet?" (`met`: None until they answer)."""

    __tablename__ = "intro_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("intro_groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    city: Mapped[str | None] = mapped_column(String(80))
    met: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None]


class IntroOptOut(Base):
    """A member who said `intros off` (left out of rounds until `intros on`)."""

    __tablename__ = "intro_opt_outs"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    opted_out_at: Mapped[datetime]
