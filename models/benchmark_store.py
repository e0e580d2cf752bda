"""Benchmark run records: create as ``running``, update as results arrive, read back.

Split from ``models.repository`` (which re-exports these) to keep modules small. Runs are
created before work starts so that a crashed runner leaves a ``running`` row behind as
evidence; a terminal status stamps ``finished_at`` once. Results are whole JSON documents,
replaced on update, never merged, so a retried task cannot leave a half-old mixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import BENCHMARK_KINDS, BENCHMARK_STATUSES, TERMINAL_STATUSES
from models.benchmarks import PerformanceBenchmark
from models.rows import to_uuid
from models.support import accepts_url, clamp_limit, to_json
from models.types import utcnow


def _benchmark_dict(run: PerformanceBenchmark) -> dict[str, Any]:
    out = to_json(run)
    end = run.finished_at
    out["duration_s"] = (end - run.started_at).total_seconds() if end is not None else None
    return out


@accepts_url
def create_benchmark(
    session: Session,
    name: str,
    kind: str,
    parameters: Mapping[str, Any] | None = None,
    optimization_version: int | None = None,
) -> str:
    """Record a run as ``running`` before it starts; returns its id as a string."""
    if kind not in BENCHMARK_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(BENCHMARK_KINDS)}")
    run = PerformanceBenchmark(
        name=name,
        kind=kind,
        status="running",
        started_at=utcnow(),
        parameters=dict(parameters or {}),
        optimization_version=optimization_version,
    )
    session.add(run)
    session.flush()
    return str(run.id)


@accepts_url
def update_benchmark(
    session: Session,
    benchmark_id: str | uuid.UUID,
    *,
    status: str | None = None,
    results: Mapping[str, Any] | None = None,
    resource_utilization: Mapping[str, Any] | None = None,
    error: str | None = None,
    optimization_version: int | None = None,
) -> dict[str, Any] | None:
    """Set the given fields (JSON documents are replaced, not merged); ``None`` means unchanged.

    Leaving ``running`` stamps ``finished_at``. Returns the updated run, or ``None`` if unknown.
    """
    if status is not None and status not in BENCHMARK_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(BENCHMARK_STATUSES)}")
    run = session.get(PerformanceBenchmark, to_uuid(benchmark_id))
    if run is None:
        return None
    if status is not None:
        run.status = status
        if status in TERMINAL_STATUSES and run.finished_at is None:
            run.finished_at = utcnow()
    if results is not None:
        run.results = dict(results)
    if resource_utilization is not None:
        run.resource_utilization = dict(resource_utilization)
    if error is not None:
        run.error = error
    if optimization_version is not None:
        run.optimization_version = optimization_version
    session.flush()
    return _benchmark_dict(run)


@accepts_url
def get_benchmark(session: Session, benchmark_id: str | uuid.UUID) -> dict[str, Any] | None:
    """One run as a JSON-safe dict (with ``duration_s``), or ``None`` (also for a malformed id)."""
    try:
        key = to_uuid(benchmark_id)
    except ValueError:
        return None
    run = session.get(PerformanceBenchmark, key)
    return None if run is None else _benchmark_dict(run)


@accepts_url
def list_benchmarks(
    session: Session, kind: str | None = None, limit: int = 50, status: str | None = None
) -> list[dict[str, Any]]:
    """Runs newest first, optionally of one ``kind`` and/or ``status``."""
    stmt = select(PerformanceBenchmark)
    if kind is not None:
        stmt = stmt.where(PerformanceBenchmark.kind == kind)
    if status is not None:
        stmt = stmt.where(PerformanceBenchmark.status == status)
    stmt = stmt.order_by(PerformanceBenchmark.started_at.desc()).limit(clamp_limit(limit))
    return [_benchmark_dict(run) for run in session.scalars(stmt)]
