"""The community's past: imported files and pages, and library candidates.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_units",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "library_candidates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("asked_by", sa.Integer()),
        sa.Column("asked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("question", sa.Text()),
        sa.Column("answers", sa.JSON()),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("found_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True)),
        sa.Column("decided_by", sa.Integer()),
        sa.Column("entry_id", sa.Integer()),
        sa.UniqueConstraint("channel_id", "message_id", name="uq_library_candidate_thread"),
    )
    op.create_index(
        "ix_library_candidates_status_found", "library_candidates", ["status", "found_at"]
    )
    op.create_index("ix_library_candidates_asked_by", "library_candidates", ["asked_by"])


def downgrade() -> None:
    op.drop_table("library_candidates")
    op.drop_table("imported_units")
