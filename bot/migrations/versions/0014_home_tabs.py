"""Members' home pages (Slack's Home tab): who opened theirs, and whether it is stale.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column(
            "identity_id",
            sa.Integer(),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("published_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("published_at", UTCDateTime(timezone=True)),
        sa.Column("retry_at", UTCDateTime(timezone=True)),
    )
    op.create_index("ix_home_tabs_opened_at", "home_tabs", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_home_tabs_opened_at", table_name="home_tabs")
    op.drop_table("home_tabs")
