"""Members and what belongs to them: their platform identities (with the text keys that
follow names and cities), roles, onboarding, link codes, topics and expertise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.textkey import CITY_KEY_LENGTH, NAME_KEY_LENGTH, fold


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    name_key: Mapped[str | None] = mapped_column(String(NAME_KEY_LENGTH), index=True)
    city: Mapped[str | None] = mapped_column(String(80))
    city_key: Mapped[str | None] = mapped_column(String(CITY_KEY_LENGTH), index=True)
    org: Mapped[str | None] = mapped_column(String(120))
    role_title: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    joined_at: Mapped[datetime | None]
    welcomed_at: Mapped[datetime | None]
    away_until: Mapped[datetime | None]
    is_away: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None]

    identities: Mapped[list[Identity]] = relationship(back_populates="member", lazy="raise")


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(NAME_KEY_LENGTH), index=True)

    member: Mapped[Member] = relationship(back_populates="identities")


# Text keys (bot/textkey.py) follow the text on every ORM write; Core inserts and updates of
# these columns must set the keys themselves (see bot/members.py resolve_many).
_KEYS = {
    Member: (("display_name", "name_key", NAME_KEY_LENGTH), ("city", "city_key", CITY_KEY_LENGTH)),
    Identity: (("display_name", "name_key", NAME_KEY_LENGTH),),
}


@event.listens_for(Member, "before_insert")
@event.listens_for(Identity, "before_insert")
def _set_keys_on_insert(_mapper, _connection, target) -> None:
    for source, key, limit in _KEYS[type(target)]:
        setattr(target, key, fold(getattr(target, source), limit))


@event.listens_for(Member, "before_update")
@event.listens_for(Identity, "before_update")
def _set_keys_on_update(_mapper, _connection, target) -> None:
    state = inspect(target)
    for source, key, limit in _KEYS[type(target)]:
        if state.attrs[source].history.has_changes():
            setattr(target, key, fold(getattr(target, source), limit))


class Role(Base):
    """A role a member holds: `source` is `grant` (by command) or `config` (from
    `CONVENER_FACILITATORS` / `CONVENER_COORDINATORS`, reconciled at every start)."""

    __tablename__ = "roles"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[datetime]
    granted_by: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="grant", server_default="grant")


class Onboarding(Base):
    """Where a member is in the guided welcome conversation."""

    __tablename__ = "onboarding"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(255))
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class LinkCode(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    claimed_by: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None]


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(80), unique=True)
    keywords: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Expertise(Base):
    """A member's relation to a topic: `offers` (can help) or `wants` (wants to learn)."""

    __tablename__ = "expertise"
    __table_args__ = (Index("ix_expertise_topic_kind", "topic_id", "kind", "member_id"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True, default="offers")
    created_at: Mapped[datetime]
