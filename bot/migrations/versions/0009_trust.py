"""Trust: the audit log (report pulls move into it), where a role came from, link codes
awaiting confirmation, and erased members.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    pulls = sa.table(
        "report_pulls",
        sa.column("member_id", sa.Integer()),
        sa.column("pulled_at", UTCDateTime(timezone=True)),
        sa.column("period_from", UTCDateTime(timezone=True)),
        sa.column("period_to", UTCDateTime(timezone=True)),
        sa.column("pseudonymous", sa.Boolean()),
        sa.column("source", sa.String()),
    )
    audit = sa.table(
        "audit_log",
        sa.column("at", UTCDateTime(timezone=True)),
        sa.column("action", sa.String()),
        sa.column("actor_id", sa.Integer()),
        sa.column("detail", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(pulls)).all()
    if rows:
        op.bulk_insert(
            audit,
            [
                {
                    "at": row.pulled_at,
                    "action": "report",
                    "actor_id": row.member_id,
                    "detail": f"{row.period_from:%Y-%m-%d} to {row.period_to:%Y-%m-%d}"
                    + (", pseudonymous" if row.pseudonymous else "")
                    + (" (command line)" if row.source == "cli" else ""),
                }
                for row in rows
            ],
        )
    op.drop_table("report_pulls")
    with op.batch_alter_table("roles") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="grant")
        )
    # Until now the settings' roles were stored without a granter; commands always name one.
    op.execute("UPDATE roles SET source = 'config' WHERE granted_by IS NULL")
    with op.batch_alter_table("link_codes") as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("members") as batch_op:
        batch_op.add_column(sa.Column("erased_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("link_codes") as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("roles") as batch_op:
        batch_op.drop_column("source")
    op.create_table(
        "report_pulls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("pulled_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_from", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_to", UTCDateTime(timezone=True), nullable=False),
        sa.Column("pseudonymous", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
