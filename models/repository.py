"""Typed insert/query helpers: the only way tasks and the API touch the database.

Inputs and outputs are JSON-safe (dicts, lists, strings, numbers): results cross process
boundaries (Celery results, HTTP responses) and ORM objects must never do that. Every helper
takes a ``Session`` as first argument, or a database URL string, in which case it runs in its
own ``session_scope`` (commit on success). With a ``Session`` the caller owns the transaction:
nothing here commits.

Writes live here; benchmark runs (``models.benchmark_store``) and the read-side reports
(``models.reports``) are re-exported so callers only ever import ``models.repository``.
Metric rows may name their user/project by external id (``"user": "alice"``); the helper
resolves or creates the row and fills ``user_id``/``project_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.base import Base
from models.benchmark_store import create_benchmark, get_benchmark, list_benchmarks, update_benchmark
from models.identity import Project, User
from models.metrics import AgentLoadingMetric, CachePerformance, PerformanceMetric, TokenOptimization
from models.reports import (
    GROUP_BY,
    recent_agent_loading_metrics,
    recent_cache_performance,
    recent_performance_metrics,
    recent_token_optimization,
    token_usage_summary,
)
from models.rows import (
    AgentLoadingRow,
    CachePerformanceRow,
    MetricRow,
    PerformanceMetricRow,
    TokenOptimizationRow,
    normalize,
)
from models.support import accepts_url, to_json
from models.types import utcnow

Identity = TypeVar("Identity", User, Project)

__all__ = [
    "GROUP_BY",
    "accepts_url",
    "create_benchmark",
    "get_benchmark",
    "get_or_create_project",
    "get_or_create_user",
    "insert_agent_loading_metrics",
    "insert_cache_performance",
    "insert_performance_metrics",
    "insert_token_optimization",
    "list_benchmarks",
    "recent_agent_loading_metrics",
    "recent_cache_performance",
    "recent_performance_metrics",
    "recent_token_optimization",
    "to_json",
    "token_usage_summary",
    "update_benchmark",
]


# ---------------------------------------------------------------- users and projects


def _get_or_create(session: Session, model: type[Identity], external_id: str, values: dict[str, Any]) -> uuid.UUID:
    """Race-free upsert on ``external_id``; fills (never overwrites) empty attributes."""
    if not isinstance(external_id, str) or not external_id.strip():
        raise ValueError(f"{model.__tablename__}: external_id must be a non-empty string")
    query = select(model).where(model.external_id == external_id)
    existing: Identity | None = session.scalars(query).one_or_none()
    if existing is None:
        dialect = session.get_bind().dialect.name
        row = {"id": uuid.uuid4(), "external_id": external_id, "created_at": utcnow(), **values}
        if dialect in ("postgresql", "sqlite"):
            dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = dialect_insert(model).values(**row).on_conflict_do_nothing(index_elements=["external_id"])
            session.execute(stmt)
        else:  # pragma: no cover - other dialects are not deployed
            session.add(model(**row))
            session.flush()
        existing = session.scalars(query).one()
    for key, value in values.items():
        if value is not None and getattr(existing, key) is None:
            setattr(existing, key, value)
    session.flush()
    return existing.id


@accepts_url
def get_or_create_user(session: Session, external_id: str, role: str | None = None) -> uuid.UUID:
    """The id of user ``external_id``, creating it; ``role`` is recorded if none is set yet."""
    return _get_or_create(session, User, external_id, {"role": role})


@accepts_url
def get_or_create_project(
    session: Session,
    external_id: str,
    name: str | None = None,
    track: str | None = None,
    field_type: str | None = None,
) -> uuid.UUID:
    """The id of project ``external_id``, creating it; empty attributes are filled in."""
    return _get_or_create(session, Project, external_id, {"name": name, "track": track, "field_type": field_type})


def _resolve_identities(session: Session, rows: list[dict[str, Any]]) -> None:
    """Turn ``user``/``project`` external ids into ``user_id``/``project_id`` (one lookup each)."""
    resolvers: dict[str, Callable[[str], uuid.UUID]] = {
        "user": lambda external: _get_or_create(session, User, external, {}),
        "project": lambda external: _get_or_create(session, Project, external, {}),
    }
    cache: dict[tuple[str, str], uuid.UUID] = {}
    for index, row in enumerate(rows):
        for key, resolve in resolvers.items():
            external = row.pop(key, None)
            if external is None:
                continue
            if row.get(f"{key}_id") is not None:
                raise ValueError(f"row {index}: give {key!r} or {key + '_id'!r}, not both")
            external = str(external)
            if (key, external) not in cache:
                cache[(key, external)] = resolve(external)
            row[f"{key}_id"] = cache[(key, external)]


# ---------------------------------------------------------------- metric inserts


def _insert(
    session: Session, model: type[Base], row_model: type[MetricRow], rows: Sequence[Mapping[str, Any]]
) -> int:
    clean = normalize(row_model, rows)
    _resolve_identities(session, clean)
    if clean:
        session.execute(insert(model), clean)
    return len(clean)


@accepts_url
def insert_token_optimization(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert savings rows; ``reduction`` defaults to ``1 - optimized/baseline``. Returns count."""
    return _insert(session, TokenOptimization, TokenOptimizationRow, rows)


@accepts_url
def insert_agent_loading_metrics(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert loading decisions; ``agents_count`` defaults to ``len(agents_loaded)``."""
    return _insert(session, AgentLoadingMetric, AgentLoadingRow, rows)


@accepts_url
def insert_cache_performance(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert cache counter snapshots; ``hit_rate`` defaults to ``hits / (hits + misses)``."""
    return _insert(session, CachePerformance, CachePerformanceRow, rows)


@accepts_url
def insert_performance_metrics(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert named measurements (``category`` in baseline/optimization/benchmark/live)."""
    return _insert(session, PerformanceMetric, PerformanceMetricRow, rows)
