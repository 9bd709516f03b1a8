"""The facilitators' weekly digest: one row per facilitator and weekly slot.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slot", UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("slot", "member_id", name="uq_digest_run_slot"),
    )


def downgrade() -> None:
    op.drop_table("digest_runs")
