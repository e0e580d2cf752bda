"""Initial schema: users, projects, benchmarks and the four metrics tables.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01

Hand-written. Types are plain SQLAlchemy types with PostgreSQL variants (UUID, JSONB,
TEXT[], BIGSERIAL) rather than ``models.types``, so this file keeps meaning the same schema
whatever happens to application code later. The metadata/migration comparison test proves it
matches the ORM on both PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(as_uuid=True), "postgresql")
JSONDOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
TEXT_ARRAY = sa.JSON(none_as_null=True).with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

METRIC_CATEGORIES = ("baseline", "optimization", "benchmark", "live")
BENCHMARK_KINDS = ("benchmark", "load_test", "stress", "scalability", "optimize")
BENCHMARK_STATUSES = ("running", "complete", "incomplete", "failed")
CACHE_TYPES = ("agent_definitions", "user_context", "workflow_state", "selections")


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="SET NULL"
    )


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def _recorded_at() -> sa.Column[object]:
    return sa.Column("recorded_at", TS, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID, nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        _pk("users"),
        sa.UniqueConstraint("external_id", name="uq_users_external_id"),
    )
    op.create_table(
        "projects",
        sa.Column("id", UUID, nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("track", sa.Text(), nullable=True),
        sa.Column("field_type", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        _pk("projects"),
        sa.UniqueConstraint("external_id", name="uq_projects_external_id"),
    )
    op.create_table(
        "performance_benchmarks",
        sa.Column("id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("parameters", JSONDOC, nullable=True),
        sa.Column("results", JSONDOC, nullable=True),
        sa.Column("resource_utilization", JSONDOC, nullable=True),
        sa.Column("optimization_version", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _pk("performance_benchmarks"),
        _one_of("kind", BENCHMARK_KINDS, "ck_performance_benchmarks_kind"),
        _one_of("status", BENCHMARK_STATUSES, "ck_performance_benchmarks_status"),
    )
    _index("performance_benchmarks", "status")
    _index("performance_benchmarks", "started_at")
    _index("performance_benchmarks", "kind", "started_at")

    op.create_table(
        "performance_metrics",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        _recorded_at(),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("metric_name", sa.Text(), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("labels", JSONDOC, nullable=True),
        sa.Column("strategy", sa.Text(), nullable=True),
        sa.Column("benchmark_id", UUID, nullable=True),
        _pk("performance_metrics"),
        _fk("performance_metrics", "benchmark_id", "performance_benchmarks"),
        _one_of("category", METRIC_CATEGORIES, "ck_performance_metrics_category"),
    )
    for columns in (("recorded_at",), ("metric_name",), ("strategy",), ("benchmark_id",)):
        _index("performance_metrics", *columns)
    _index("performance_metrics", "category", "recorded_at")

    op.create_table(
        "agent_loading_metrics",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        _recorded_at(),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("project_id", UUID, nullable=True),
        sa.Column("context_hash", sa.Text(), nullable=True),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("agents_loaded", TEXT_ARRAY, nullable=False),
        sa.Column("agents_count", sa.Integer(), nullable=False),
        sa.Column("loaded_tokens", sa.Integer(), nullable=False),
        sa.Column("manifest_tokens", sa.Integer(), nullable=False),
        sa.Column("baseline_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        _pk("agent_loading_metrics"),
        _fk("agent_loading_metrics", "user_id", "users"),
        _fk("agent_loading_metrics", "project_id", "projects"),
    )
    for column in ("recorded_at", "user_id", "project_id", "strategy"):
        _index("agent_loading_metrics", column)

    op.create_table(
        "cache_performance",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        _recorded_at(),
        sa.Column("cache_type", sa.Text(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.Column("refreshes", sa.BigInteger(), nullable=False),
        sa.Column("evictions", sa.BigInteger(), nullable=False),
        sa.Column("size_keys", sa.BigInteger(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("avg_time_ms", sa.Float(), nullable=True),
        sa.Column("hit_rate", sa.Float(), nullable=False),
        _pk("cache_performance"),
        _one_of("cache_type", CACHE_TYPES, "ck_cache_performance_cache_type"),
    )
    _index("cache_performance", "recorded_at")
    _index("cache_performance", "cache_type", "recorded_at")

    op.create_table(
        "token_optimization",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        _recorded_at(),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("project_id", UUID, nullable=True),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("context_hash", sa.Text(), nullable=True),
        sa.Column("baseline_tokens", sa.Integer(), nullable=False),
        sa.Column("optimized_tokens", sa.Integer(), nullable=False),
        sa.Column("reduction", sa.Float(), nullable=False),
        sa.Column("agents", TEXT_ARRAY, nullable=False),
        sa.Column("optimization_version", sa.Integer(), nullable=True),
        _pk("token_optimization"),
        _fk("token_optimization", "user_id", "users"),
        _fk("token_optimization", "project_id", "projects"),
    )
    for column in ("recorded_at", "user_id", "project_id", "strategy"):
        _index("token_optimization", column)


def downgrade() -> None:
    # children first: the metrics tables hold the foreign keys
    for table in (
        "token_optimization",
        "cache_performance",
        "agent_loading_metrics",
        "performance_metrics",
        "performance_benchmarks",
        "projects",
        "users",
    ):
        op.drop_table(table)
