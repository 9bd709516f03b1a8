"""The library indexed in each entry's language: knowledge_entries.language, and its title and
body stemmed in that language (title_terms, body_terms, `bot.stemming.terms`); the full-text
index now holds those terms (no stemming of its own): FTS5 `knowledge_fts(title_terms,
body_terms)` on SQLite, the `search` tsvector with the 'simple' configuration on PostgreSQL.
Existing entries get the language their words tell (`bot.stemming.detect`), else English.

The terms are computed by `bot.stemming` as the application computes them, imported rather
than copied: the index must hold what the application searches for. A later change of the
stemming needs a migration of its own that computes the terms again.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from bot import stemming

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000

SQLITE_TRIGGERS = ("knowledge_fts_insert", "knowledge_fts_delete", "knowledge_fts_update")
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title_terms, body_terms, "
    "content='knowledge_entries', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(rowid, title_terms, body_terms) "
    "VALUES (new.id, new.title_terms, new.body_terms); END",
    "CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, body_terms) "
    "VALUES ('delete', old.id, old.title_terms, old.body_terms); END",
    "CREATE TRIGGER knowledge_fts_update AFTER UPDATE OF title_terms, body_terms "
    "ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, body_terms) "
    "VALUES ('delete', old.id, old.title_terms, old.body_terms); "
    "INSERT INTO knowledge_fts(rowid, title_terms, body_terms) "
    "VALUES (new.id, new.title_terms, new.body_terms); END",
    "INSERT INTO knowledge_fts(knowledge_fts) VALUES ('rebuild')",
]
POSTGRES_FTS = [
    "ALTER TABLE knowledge_entries ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', title_terms), 'A') || "
    "setweight(to_tsvector('simple', body_terms), 'B')) STORED",
    "CREATE INDEX ix_knowledge_search ON knowledge_entries USING gin (search)",
    # A searched word is one term per language, most of them in no entry: with the finer
    # statistics the planner sees they are rare, and finds rare words through the index.
    "ALTER TABLE knowledge_entries ALTER COLUMN search SET STATISTICS 1000",
]

# Migration 0007's index, over the title and body, stemmed by the database (the downgrade).
SQLITE_FTS_0007 = [
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
    "INSERT INTO knowledge_fts(knowledge_fts) VALUES ('rebuild')",
]
POSTGRES_FTS_0007 = [
    "ALTER TABLE knowledge_entries ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED",
    "CREATE INDEX ix_knowledge_search ON knowledge_entries USING gin (search)",
]


def _drop_index(sqlite: bool) -> None:
    if sqlite:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_knowledge_search")
        op.execute("ALTER TABLE knowledge_entries DROP COLUMN IF EXISTS search")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _drop_index(sqlite)
    op.add_column(
        "knowledge_entries",
        sa.Column("language", sa.String(16), nullable=False, server_default=stemming.DEFAULT),
    )
    for name in ("title_terms", "body_terms"):
        op.add_column(
            "knowledge_entries", sa.Column(name, sa.Text(), nullable=False, server_default="")
        )
    _backfill()
    for statement in SQLITE_FTS if sqlite else POSTGRES_FTS:
        op.execute(statement)


def _backfill() -> None:
    """Each entry's language and terms, a batch at a time in id order, one executemany each."""
    conn = op.get_bind()
    t = sa.table(
        "knowledge_entries",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("language", sa.String),
        sa.column("title_terms", sa.Text),
        sa.column("body_terms", sa.Text),
    )
    write = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values(
            language=sa.bindparam("new_language"),
            title_terms=sa.bindparam("new_title_terms"),
            body_terms=sa.bindparam("new_body_terms"),
        )
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(t.c.id, t.c.title, t.c.body)
            .where(t.c.id > last)
            .order_by(t.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        params = []
        for row_id, title, body in rows:
            language = stemming.detect(f"{title}\n{body or ''}", stemming.DEFAULT)
            params.append(
                {
                    "row_id": row_id,
                    "new_language": language,
                    "new_title_terms": stemming.terms(title, language),
                    "new_body_terms": stemming.terms(body or "", language),
                }
            )
        conn.execute(write, params)
        last = rows[-1][0]


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _drop_index(sqlite)
    for name in ("body_terms", "title_terms", "language"):
        op.drop_column("knowledge_entries", name)
    for statement in SQLITE_FTS_0007 if sqlite else POSTGRES_FTS_0007:
        op.execute(statement)
