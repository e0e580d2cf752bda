"""Append-only measurement tables: the evidence behind every savings claim.

These tables only ever receive batched inserts (from the stats/metrics flush tasks and the
benchmark runners) and time-ordered reads, so each has a ``recorded_at`` index plus an index
on the column reports group by (category, strategy, cache type). Keys are 64-bit integers on
PostgreSQL (cheap, ordered, never exhausted) and SQLite's ``INTEGER`` rowid alias elsewhere.
User/project links are nullable and ``SET NULL`` on delete: anonymous traffic is still
traffic, and forgetting a user must not delete the aggregate evidence.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, Text, Uuid, false, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CACHE_TYPES, METRIC_CATEGORIES, Base, one_of
from models.types import JSONDocument, TextArray, UTCDateTime, utcnow

#: BIGSERIAL on PostgreSQL; plain INTEGER on SQLite so the key is the autoincrementing rowid.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


def _recorded_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=func.now(), index=True)


def _user_fk() -> Mapped[uuid.UUID | None]:
    return mapped_column(Uuid(), ForeignKey("users.id", ondelete="SET NULL"), index=True)


def _project_fk() -> Mapped[uuid.UUID | None]:
    return mapped_column(Uuid(), ForeignKey("projects.id", ondelete="SET NULL"), index=True)


class PerformanceMetric(Base):
    """A single named measurement (p95 latency, throughput, hit rate...) in a category.

    ``baseline`` is the full-load reference, ``optimization`` the selective result,
    ``benchmark`` a number produced by a benchmark run (``benchmark_id`` set) and ``live``
    production telemetry.
    """

    __tablename__ = "performance_metrics"
    __table_args__ = (
        one_of("category", METRIC_CATEGORIES, "category"),
        Index("ix_performance_metrics_category_recorded_at", "category", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = _recorded_at()
    category: Mapped[str] = mapped_column(Text())
    metric_name: Mapped[str] = mapped_column(Text(), index=True)
    metric_value: Mapped[float] = mapped_column(Float())
    unit: Mapped[str | None] = mapped_column(Text())
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    strategy: Mapped[str | None] = mapped_column(Text(), index=True)
    benchmark_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid(), ForeignKey("performance_benchmarks.id", ondelete="SET NULL"), index=True
    )


class AgentLoadingMetric(Base):
    """One agent-loading decision as served: what was loaded, its token cost and latency."""

    __tablename__ = "agent_loading_metrics"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = _recorded_at()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    project_id: Mapped[uuid.UUID | None] = _project_fk()
    context_hash: Mapped[str | None] = mapped_column(Text())
    strategy: Mapped[str] = mapped_column(Text(), index=True)
    agents_loaded: Mapped[list[str]] = mapped_column(TextArray())
    agents_count: Mapped[int] = mapped_column(Integer())
    loaded_tokens: Mapped[int] = mapped_column(Integer())
    manifest_tokens: Mapped[int] = mapped_column(Integer())
    baseline_tokens: Mapped[int] = mapped_column(Integer())
    latency_ms: Mapped[float | None] = mapped_column(Float())
    cache_hit: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    source: Mapped[str] = mapped_column(Text(), default="api")


class CachePerformance(Base):
    """A periodic snapshot of one cache's counters (deltas since the previous flush)."""

    __tablename__ = "cache_performance"
    __table_args__ = (
        one_of("cache_type", CACHE_TYPES, "cache_type"),
        Index("ix_cache_performance_cache_type_recorded_at", "cache_type", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = _recorded_at()
    cache_type: Mapped[str] = mapped_column(Text())
    hits: Mapped[int] = mapped_column(BigInteger(), default=0)
    misses: Mapped[int] = mapped_column(BigInteger(), default=0)
    refreshes: Mapped[int] = mapped_column(BigInteger(), default=0)
    evictions: Mapped[int] = mapped_column(BigInteger(), default=0)
    size_keys: Mapped[int] = mapped_column(BigInteger(), default=0)
    memory_bytes: Mapped[int] = mapped_column(BigInteger(), default=0)
    avg_time_ms: Mapped[float | None] = mapped_column(Float())
    hit_rate: Mapped[float] = mapped_column(Float(), default=0.0)


class TokenOptimization(Base):
    """Baseline vs optimised token count for one selection: the savings ledger."""

    __tablename__ = "token_optimization"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = _recorded_at()
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    project_id: Mapped[uuid.UUID | None] = _project_fk()
    strategy: Mapped[str] = mapped_column(Text(), index=True)
    context_hash: Mapped[str | None] = mapped_column(Text())
    baseline_tokens: Mapped[int] = mapped_column(Integer())
    optimized_tokens: Mapped[int] = mapped_column(Integer())
    reduction: Mapped[float] = mapped_column(Float())
    agents: Mapped[list[str]] = mapped_column(TextArray())
    optimization_version: Mapped[int | None] = mapped_column(Integer())


class FlushedBatch(Base):
    """One batch of served-selection events written to SQL, by the id of the flush that took it.

    Inserted in the same transaction as the batch's rows: a batch whose taken Redis key
    survives its flush (the worker died after the commit) is recognised by its id and dropped
    instead of written twice; one that has no row here was never written and is given back.
    """

    __tablename__ = "flushed_batches"

    batch_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    recorded_at: Mapped[datetime] = _recorded_at()
    events: Mapped[int] = mapped_column(Integer(), default=0)
