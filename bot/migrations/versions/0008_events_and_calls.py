"""Learning events with sign-ups, calls for expressions of interest, and the notices sent
about them (each claimed once).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def _pair(table: str, parent: str, other: str, other_table: str) -> None:
    op.create_table(
        table,
        sa.Column(
            f"{parent}_id",
            sa.Integer(),
            sa.ForeignKey(f"{parent}s.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            f"{other}_id",
            sa.Integer(),
            sa.ForeignKey(f"{other_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        _when("starts_at"),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("created_by", sa.Integer()),
        _when("created_at"),
        _when("cancelled_at", nullable=True),
    )
    op.create_index("ix_events_starts_at", "events", ["starts_at"])
    _pair("event_topics", "event", "topic", "topics")
    op.create_table(
        "event_rsvps",
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("answer", sa.String(8), nullable=False),
        _when("answered_at"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        _when("deadline"),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("created_by", sa.Integer()),
        _when("created_at"),
        _when("closed_at", nullable=True),
    )
    op.create_index("ix_calls_deadline", "calls", ["deadline"])
    _pair("call_topics", "call", "topic", "topics")
    op.create_table(
        "call_interests",
        sa.Column(
            "call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("city", sa.String(80)),
        sa.Column("org", sa.String(120)),
        sa.Column("role_title", sa.String(120)),
        _when("updated_at"),
        _when("withdrawn_at", nullable=True),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        _when("sent_at"),
        sa.UniqueConstraint("subject", "kind", "member_id", name="uq_notice"),
    )


def downgrade() -> None:
    for table in ("notices", "call_interests", "call_topics"):
        op.drop_table(table)
    op.drop_index("ix_calls_deadline", table_name="calls")
    op.drop_table("calls")
    for table in ("event_rsvps", "event_topics"):
        op.drop_table(table)
    op.drop_index("ix_events_starts_at", table_name="events")
    op.drop_table("events")
