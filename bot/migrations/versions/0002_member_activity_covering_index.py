"""Cover per-member activity queries: (member_id, ts, kind) replaces (member_id, ts), so the
report's per-member figures read the index alone.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activity_member_ts_kind", "activity", ["member_id", "ts", "kind"])
    op.drop_index("ix_activity_member_ts", table_name="activity")


def downgrade() -> None:
    op.create_index("ix_activity_member_ts", "activity", ["member_id", "ts"])
    op.drop_index("ix_activity_member_ts_kind", table_name="activity")
