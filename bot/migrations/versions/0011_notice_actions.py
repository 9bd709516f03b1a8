"""Notices carry their buttons (a routed question's Decline, a reminder's RSVP).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("actions", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("actions")
