"""Introductions between cities (schedule, rounds, groups, answers, opt-outs), calendar
feeds, events' calendar SEQUENCE and notices' attachments.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intro_schedule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("every_weeks", sa.Integer(), nullable=False),
        sa.Column("next_round_at", UTCDateTime(timezone=True)),
        sa.Column("updated_by", sa.Integer()),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "intro_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slot", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.Integer()),
        sa.Column("follow_up_at", UTCDateTime(timezone=True)),
        sa.Column("followed_up_at", UTCDateTime(timezone=True)),
        sa.UniqueConstraint("slot", name="uq_intro_round_slot"),
    )
    op.create_index("ix_intro_rounds_started_at", "intro_rounds", ["started_at"])
    op.create_index("ix_intro_rounds_follow_up_at", "intro_rounds", ["follow_up_at"])
    op.create_table(
        "intro_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("intro_rounds.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(16)),
        sa.Column("channel_id", sa.String(255)),
        sa.Column("message_id", sa.String(255)),
    )
    op.create_index("ix_intro_groups_round_id", "intro_groups", ["round_id"])
    op.create_table(
        "intro_members",
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("intro_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("city", sa.String(80)),
        sa.Column("met", sa.Boolean()),
        sa.Column("answered_at", UTCDateTime(timezone=True)),
    )
    op.create_index("ix_intro_members_member_id", "intro_members", ["member_id"])
    op.create_table(
        "intro_opt_outs",
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("opted_out_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("attachment", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("attachment")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sequence")
    op.drop_table("calendar_feeds")
    op.drop_table("intro_opt_outs")
    op.drop_index("ix_intro_members_member_id", table_name="intro_members")
    op.drop_table("intro_members")
    op.drop_index("ix_intro_groups_round_id", table_name="intro_groups")
    op.drop_table("intro_groups")
    op.drop_index("ix_intro_rounds_follow_up_at", table_name="intro_rounds")
    op.drop_index("ix_intro_rounds_started_at", table_name="intro_rounds")
    op.drop_table("intro_rounds")
    op.drop_table("intro_schedule")
