"""What the health, cache and performance routes answer: one model per body shape.

Like ``answers``, these document bodies the routes build as dicts (FastAPI does not validate
them); the generated-client test and the schemathesis conformance checks hold them to the
wire. Documents stored as free JSON (a refresh report, a run's parameters and results) stay
open objects: their fields belong to the job that wrote them, not to this API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from agentload.api.answers import VERSION, TaskAccepted
from agentload.api.failures import Problem
from agentload.catalog.models import CatalogError

CACHE_STATUS_EXAMPLE: dict[str, Any] = {
    "version": "20250101T000000-ab12cd", "published_at": 1735689600.0, "agents": 10, "selections": 171,
    "version_bytes": 2002860, "catalog_errors": [], "keys": 422, "memory_bytes": 4118952, "versions": 1,
    "refresh_errors": 0, "hit_rate": {"selections": {"hits": 998, "misses": 2, "hit_rate": 0.998, "avg_time_ms": 0.21},
                                      "agent_definitions": {"hits": 40, "misses": 0, "hit_rate": 1.0,
                                                            "avg_time_ms": 0.12}},
    "last_refresh": {"ok": True, "at": 1735689600.0, "version": "20250101T000000-ab12cd", "changed": True,
                     "published": True, "errors": [], "duration_ms": 516.8}}


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """``ready`` while a complete catalog version is served."""

    status: Literal["ready", "not ready"]
    redis: Literal["ok", "unavailable"]
    version: str | None = VERSION
    catalog_refused: str | SkipJsonSchema[None] = Field(
        default=None, description="Why the last refresh refused the catalog (the live version keeps serving)")
    redis_warning: str | SkipJsonSchema[None] = Field(
        default=None, description="Redis is configured to evict keys a version needs")


class Unready(Problem, Readiness):
    """The readiness 503: a ``Problem`` whose ``detail`` says what is missing, with the probe's fields."""

    status: Literal["not ready"]
    refresh: TaskAccepted | SkipJsonSchema[None] = Field(
        default=None, description="The refresh requested to republish an incomplete version")


class HitRate(BaseModel):
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses); null before any read")
    avg_time_ms: float | None


class CacheStatus(BaseModel):
    """The published version, Redis usage, hit rates per cache type, and the last refresh."""

    version: str | None = VERSION
    published_at: float | None = Field(description="Unix time")
    agents: int
    selections: int
    version_bytes: int
    catalog_errors: list[CatalogError]
    keys: int = Field(description="Keys in the Redis database")
    memory_bytes: int
    versions: int = Field(description="Catalog versions kept")
    refresh_errors: int
    hit_rate: dict[str, HitRate] = Field(description="Per cache type")
    last_refresh: dict[str, Any] | None = Field(description="The last refresh's report (timings, changes, errors)")
    catalog_refused: str | None = Field(default=None, description="Why the last refresh refused the catalog")


class Latency(BaseModel):
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


class EndpointStats(BaseModel):
    requests: int
    by_status: dict[str, int]
    latency: Latency


class ToolStats(BaseModel):
    calls: int
    errors: int
    error_rate: float
    tokens_served: int
    latency: Latency


class SelectionsServed(BaseModel):
    api: int
    mcp: int
    total: int


class LiveFigures(BaseModel):
    endpoints: dict[str, EndpointStats] = Field(description="Per route (`GET /api/v1/...`)")
    selections_served: SelectionsServed
    cache: CacheStatus
    queues: dict[str, int] = Field(description="Messages waiting per Celery queue")
    events_pending: int = Field(description="Selection events not yet written to the database")
    mcp: dict[str, ToolStats] = Field(description="Per MCP tool")


class MetricRow(BaseModel):
    """A ``performance_metrics`` row."""

    id: int
    recorded_at: datetime
    category: str
    metric_name: str
    metric_value: float
    unit: str | None
    labels: dict[str, Any] | None
    strategy: str | None
    benchmark_id: str | None


class CacheRow(BaseModel):
    """A ``cache_performance`` row."""

    id: int
    recorded_at: datetime
    cache_type: str
    hits: int
    misses: int
    refreshes: int
    evictions: int
    size_keys: int
    memory_bytes: int
    avg_time_ms: float | None
    hit_rate: float


class History(BaseModel):
    """Recent rows, newest first (both absent with ``history_limit=0`` or a database failure)."""

    performance_metrics: list[MetricRow] = Field(default_factory=list)
    cache_performance: list[CacheRow] = Field(default_factory=list)


class PerformanceFigures(BaseModel):
    live: LiveFigures
    history: History
    history_error: str | SkipJsonSchema[None] = Field(default=None, description="The kind of database failure")


class UsageRow(BaseModel):
    group_by: str
    key: str | None = Field(description="Strategy, user or project id (null: anonymous), or UTC day")
    count: int
    baseline_tokens: int
    optimized_tokens: int
    saved_tokens: int
    mean_reduction: float
    overall_reduction: float


class TokenUsage(BaseModel):
    group_by: Literal["strategy", "user", "project", "day"]
    rows: list[UsageRow]


class McpFigures(BaseModel):
    tools: dict[str, ToolStats]


class RunSummary(BaseModel):
    """What every stored performance run has."""

    id: str
    name: str
    kind: str = Field(examples=["scalability"], description="benchmark, load_test, stress, scalability, optimize")
    status: str = Field(examples=["complete"], description="running, complete, incomplete, failed")
    started_at: datetime
    finished_at: datetime | None = Field(default=None, description="null while running")
    duration_s: float | None = None
    error: str | None = None


class BenchmarkRun(RunSummary):
    parameters: dict[str, Any] | None
    results: dict[str, Any] | None = Field(description="Without histograms and time series unless `full=true`")
    resource_utilization: dict[str, Any] | None
    optimization_version: int | None


class BenchmarkRuns(BaseModel):
    runs: list[BenchmarkRun]


class LoadStep(BaseModel):
    users: int | None
    rate: float | None
    throughput_rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    breach: str | None = Field(default=None, description="Why this step breached the thresholds, if it did")


class ScalabilityRun(RunSummary):
    scenario: str | None
    mode: str | None
    steps: list[LoadStep]
    degradation: dict[str, Any] | None
    resources: dict[str, Any] | None = Field(description="Resource utilisation summary")


class ScalabilityRuns(BaseModel):
    runs: list[ScalabilityRun]
