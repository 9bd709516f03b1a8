"""Case-folded keys for display names and cities, so lookups ignore case beyond ASCII on every
database (SQLite's lower() folds only ASCII): members.name_key, members.city_key and
identities.name_key, filled in from the existing rows.

The keys are computed here as bot/textkey.py computes them today (NFC, casefold, whitespace
collapsed, cut to the column's length), copied rather than imported so that this migration
does not change when the application code does.

Revision ID: 0003
Revises: 0002
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000

# (table, [(text column, key column, key length), ...])
KEYS = (
    ("members", [("display_name", "name_key", 200), ("city", "city_key", 80)]),
    ("identities", [("display_name", "name_key", 200)]),
)


def _fold(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    key = " ".join(folded.split())[:limit].rstrip()
    return key or None


def upgrade() -> None:
    for table, columns in KEYS:
        for _, key, length in columns:
            op.add_column(table, sa.Column(key, sa.String(length), nullable=True))
            op.create_index(f"ix_{table}_{key}", table, [key])
    for table, columns in KEYS:
        _backfill(table, columns)


def _backfill(table: str, columns: list[tuple[str, str, int]]) -> None:
    """Read the rows in id order, a batch at a time, and write the keys of each batch with one
    executemany."""
    conn = op.get_bind()
    t = sa.table(
        table,
        sa.column("id", sa.Integer),
        *(sa.column(source, sa.String) for source, _, _ in columns),
        *(sa.column(key, sa.String) for _, key, _ in columns),
    )
    write = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values({key: sa.bindparam(f"new_{key}") for _, key, _ in columns})
    )
    last = None
    while True:
        query = sa.select(t.c.id, *(t.c[source] for source, _, _ in columns)).order_by(t.c.id)
        if last is not None:
            query = query.where(t.c.id > last)
        rows = conn.execute(query.limit(BATCH)).all()
        if not rows:
            return
        params = [
            {
                "row_id": row[0],
                **{
                    f"new_{key}": _fold(value, length)
                    for (_, key, length), value in zip(columns, row[1:], strict=True)
                },
            }
            for row in rows
        ]
        params = [p for p in params if any(v is not None for k, v in p.items() if k != "row_id")]
        if params:
            conn.execute(write, params)
        last = rows[-1][0]


def downgrade() -> None:
    for table, columns in reversed(KEYS):
        for _, key, _ in reversed(columns):
            op.drop_index(f"ix_{table}_{key}", table_name=table)
            op.drop_column(table, key)  # SQLite 3.35 and newer drop a column in place
