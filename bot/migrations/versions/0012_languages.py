"""Languages: a member's own and a channel's own (none: the community's, CONVENER_LANGUAGE).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("language", sa.String(16)))
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("language", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("language")
