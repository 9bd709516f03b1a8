"""Questions: first response, who was told in which round, question-like messages (`asks`)
and the offers made on them.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.add_column(sa.Column("first_response_at", UTCDateTime(timezone=True)))
        batch_op.add_column(sa.Column("first_responder_id", sa.Integer()))
        batch_op.create_index("ix_questions_status_asked", ["status", "asked_at"])
        batch_op.create_index("ix_questions_message", ["channel_id", "message_id"])
    with op.batch_alter_table("question_experts") as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="asked")
        )
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_question_experts_member", ["member_id", "notified_at"])
    with op.batch_alter_table("expertise") as batch_op:
        batch_op.create_index("ix_expertise_topic_kind", ["topic_id", "kind", "member_id"])
    with op.batch_alter_table("activity") as batch_op:
        batch_op.add_column(
            sa.Column("asks", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_activity_asks",
        "activity",
        ["ts"],
        sqlite_where=sa.text("asks"),
        postgresql_where=sa.text("asks"),
    )
    op.create_table(
        "question_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("offered_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offer_message_id", sa.String(255)),
        sa.Column("question_id", sa.Integer()),
        sa.UniqueConstraint("channel_id", "message_id", name="uq_question_offer_message"),
    )


def downgrade() -> None:
    op.drop_table("question_offers")
    op.drop_index("ix_activity_asks", table_name="activity")
    with op.batch_alter_table("activity") as batch_op:
        batch_op.drop_column("asks")
    with op.batch_alter_table("expertise") as batch_op:
        batch_op.drop_index("ix_expertise_topic_kind")
    with op.batch_alter_table("question_experts") as batch_op:
        batch_op.drop_index("ix_question_experts_member")
        batch_op.drop_column("round")
        batch_op.drop_column("status")
    with op.batch_alter_table("questions") as batch_op:
        batch_op.drop_index("ix_questions_message")
        batch_op.drop_index("ix_questions_status_asked")
        batch_op.drop_column("first_responder_id")
        batch_op.drop_column("first_response_at")
