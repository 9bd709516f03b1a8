"""The knowledge library: entries (solved questions, resources), their topics, and the
database's own full-text index over them: FTS5 with porter stemming on SQLite, a stored
tsvector with a GIN index on PostgreSQL. Questions can be held for the library's answer.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title, body, content='knowledge_entries', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER knowledge_fts_update AFTER UPDATE OF title, body ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO knowledge_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
POSTGRES_FTS = [
    "ALTER TABLE knowledge_entries ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED",
    "CREATE INDEX ix_knowledge_search ON knowledge_entries USING gin (search)",
]


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.add_column(sa.Column("held_until", UTCDateTime(timezone=True)))
        batch_op.add_column(sa.Column("answered_by_entry", sa.Integer()))
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "question_id",
            sa.Integer(),
            sa.ForeignKey("questions.id", ondelete="SET NULL"),
            unique=True,
        ),
        sa.Column("url", sa.String(2000)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="SET NULL")),
        sa.Column("message_id", sa.String(255)),
        sa.Column("created_by", sa.Integer()),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("answered", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_knowledge_entries_created_at", "knowledge_entries", ["created_at"])
    op.create_table(
        "knowledge_topics",
        sa.Column(
            "entry_id",
            sa.Integer(),
            sa.ForeignKey("knowledge_entries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "topic_id",
            sa.Integer(),
            sa.ForeignKey("topics.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_knowledge_topics_topic_id", "knowledge_topics", ["topic_id"])
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("knowledge_fts_insert", "knowledge_fts_delete", "knowledge_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_index("ix_knowledge_topics_topic_id", table_name="knowledge_topics")
    op.drop_table("knowledge_topics")
    op.drop_index("ix_knowledge_entries_created_at", table_name="knowledge_entries")
    op.drop_table("knowledge_entries")
    with op.batch_alter_table("questions") as batch_op:
        batch_op.drop_column("answered_by_entry")
        batch_op.drop_column("held_until")
