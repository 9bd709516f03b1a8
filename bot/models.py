"""SQLAlchemy models: every table Convener keeps.

Members are people; an identity is one platform account of a member (a member who has
linked Slack and Matrix has two). The activity log is append-only metadata of what members
did; message text is kept only when `CONVENER_STORE_MESSAGE_TEXT` is on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.textkey import CITY_KEY_LENGTH, NAME_KEY_LENGTH, fold

BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on every database (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


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


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    is_direct: Mapped[bool] = mapped_column(Boolean, default=False)


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


class KeyValue(Base):
    """Small pieces of state: adapter tokens, the welcome template, and the like."""

    __tablename__ = "kv"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


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


class KnowledgeEntry(Base):
    """The library: a solved question with the answers in its thread (`question_id` set,
    linked to its thread by `channel_id` and `message_id`), or a resource a facilitator
    curated (`url` set). `shown`: how often it was offered in search results and at `ask`;
    `answered`: how many questions it answered. Searched through the database's full-text
    index (`knowledge_fts` on SQLite, the `search` tsvector on PostgreSQL; migration 0007)."""

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


class KnowledgeTopic(Base):
    __tablename__ = "knowledge_topics"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_entries.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Event(Base):
    """A learning event (deep dive, master class, webinar, study visit) announced in a
    channel; `starts_at` in UTC, shown in `timezone`."""

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


class Notice(Base):
    """One notice about an event or a call (a reminder, a start post, a cancellation, a
    closing list), claimed before it is sent so it goes out once across restarts and
    replicas. `subject` is `event:<id>` or `call:<id>`; `member_id` 0 is the channel post."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("subject", "kind", "member_id", name="uq_notice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime]


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
