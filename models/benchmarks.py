"""One row per benchmark / load-test / stress / scalability / optimisation run.

A run is created as ``running`` before any work starts, so that a crashed worker leaves
visible evidence (a row that never finished) instead of nothing. Parameters, results and
resource utilisation are JSON documents because each kind of run reports different shapes;
the queryable, numeric facts of a run go to ``performance_metrics`` rows pointing back here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import BENCHMARK_KINDS, BENCHMARK_STATUSES, Base, one_of
from models.types import JSONDocument, UTCDateTime, utcnow


class PerformanceBenchmark(Base):
    """A run and its outcome; ``finished_at`` is set when ``status`` leaves ``running``."""

    __tablename__ = "performance_benchmarks"
    __table_args__ = (
        one_of("kind", BENCHMARK_KINDS, "kind"),
        one_of("status", BENCHMARK_STATUSES, "status"),
        Index("ix_performance_benchmarks_kind_started_at", "kind", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text())
    kind: Mapped[str] = mapped_column(Text())
    status: Mapped[str] = mapped_column(Text(), default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    resource_utilization: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    optimization_version: Mapped[int | None] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(Text())
