"""UUID keys on SQLite as 32 hex characters, the form of SQLAlchemy's own ``Uuid`` type.

Revision ID: 0003_sqlite_uuid_hex
Revises: 0002_flushed_batches
Create Date: 2027-01-01

The ORM used a hand-written ``GUID`` type that stored UUIDs on SQLite as 36-character dashed
text; it now uses ``sqlalchemy.Uuid``, which stores 32 hex characters there. Rows written
before would no longer match (joins, lookups by id), so this revision rewrites every UUID
column's values on SQLite. PostgreSQL keeps its native ``UUID`` columns: nothing changes there.

Only values change: the columns stay declared ``CHAR(36)`` (SQLite enforces no length, and
changing a declared type would mean rebuilding the tables, whose ``ON DELETE SET NULL`` keys
would be nulled by dropping the parents). ``models.migrate.compare_column_type`` treats a
``CHAR`` column as the same storage as ``Uuid`` on SQLite for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_sqlite_uuid_hex"
down_revision: str | Sequence[str] | None = "0002_flushed_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column) of every UUID column, parents first
UUID_COLUMNS: tuple[tuple[str, str], ...] = (
    ("users", "id"),
    ("projects", "id"),
    ("performance_benchmarks", "id"),
    ("performance_metrics", "benchmark_id"),
    ("agent_loading_metrics", "user_id"),
    ("agent_loading_metrics", "project_id"),
    ("token_optimization", "user_id"),
    ("token_optimization", "project_id"),
)


def _rewrite(expression: str, only: str) -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    # Parents' keys and their children's change in separate statements, so the foreign keys
    # are checked at commit instead (defer_foreign_keys lasts one transaction). The savepoint
    # makes sure that transaction is open whatever the driver's transaction mode (pysqlite's
    # legacy mode begins one only before DML); Alembic's commit ends it with the version update.
    op.execute("SAVEPOINT sqlite_uuid_hex")
    op.execute("PRAGMA defer_foreign_keys = ON")
    for table, column in UUID_COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {expression.format(c=column)} WHERE {only.format(c=column)}")


def upgrade() -> None:
    _rewrite("lower(replace({c}, '-', ''))", "length({c}) = 36")


def downgrade() -> None:
    dashed = ("lower(substr({c}, 1, 8) || '-' || substr({c}, 9, 4) || '-' || substr({c}, 13, 4) || '-' || "
              "substr({c}, 17, 4) || '-' || substr({c}, 21, 12))")
    _rewrite(dashed, "length({c}) = 32")
