"""The outbox: notices become rows that a sender delivers (what to send, to whom, when to try
again, who holds the row); rows from before are `sent`.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_WHEN = ("created_at", "due_at", "claimed_until")


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("state", sa.String(8), nullable=False, server_default="sent"))
        batch.add_column(sa.Column("recipient", sa.String(300)))
        batch.add_column(sa.Column("platform", sa.String(16)))
        batch.add_column(sa.Column("channel_id", sa.String(255)))
        batch.add_column(sa.Column("channel_name", sa.String(200)))
        batch.add_column(sa.Column("thread_id", sa.String(255)))
        batch.add_column(sa.Column("text", sa.Text()))
        for name in _WHEN:
            batch.add_column(sa.Column(name, UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claim_token", sa.String(40)))
        batch.add_column(sa.Column("message_id", sa.String(255)))
        batch.add_column(sa.Column("error", sa.Text()))
        batch.alter_column("sent_at", existing_type=UTCDateTime(timezone=True), nullable=True)
        batch.create_index("ix_notices_due", ["state", "due_at"])
        batch.create_index("ix_notices_recipient", ["recipient", "state", "id"])


def downgrade() -> None:
    op.execute("DELETE FROM notices WHERE state <> 'sent'")
    with op.batch_alter_table("notices") as batch:
        batch.drop_index("ix_notices_recipient")
        batch.drop_index("ix_notices_due")
        batch.alter_column("sent_at", existing_type=UTCDateTime(timezone=True), nullable=False)
        for name in ("error", "message_id", "claim_token", "attempts", *_WHEN, "text",
                     "thread_id", "channel_name", "channel_id", "platform", "recipient",
                     "state"):  # fmt: skip
            batch.drop_column(name)
