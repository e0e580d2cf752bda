"""The input of the HTML report: ``ReportData``, every section optional.

Producers fill in what they have measured (step tests, resource samples, token counts,
cache hit rates, strategy comparisons, quality suites); anything left empty renders as a
"no data yet" note. Keeping the shape explicit and documented here means the CLI, a Celery
task and a notebook can all produce the same report without sharing code.

Shape (JSON)::

    {
      "title": str, "generated_at": str | null, "notes": [str],
      "headline": {label: str | number},                      # headline figures table
      "steps": [{"users", "rate"?, "throughput_rps", "p50_ms", "p90_ms"?, "p99_ms",
                 "error_rate"}],                               # from loadgen StepResult
      "degradation": {...} | null,        # analysis.degradation_analysis(); computed from
                                          # steps when null
      "resources": ResourceReport | null, # agentload.measure.resources.ResourceSampler.report()
      "token_reductions": [float],        # per request/context, 0..1 (0.7 = 70 % fewer tokens)
      "cache_hit_rate": [{"t": seconds, "hit_rate": 0..1, "hits"?: int, "misses"?: int}],
      "strategies": [{"strategy": "full"|"selective"|"cached", "tokens_per_request"?,
                      "p50_ms"?, "p99_ms"?, "cpu_ms_per_request"?, "bytes_per_request"?,
                      "requests"?: int}],                  # requests measured per strategy
      "selection_quality": [{"suite": str, "cases": int, "metrics": {name: float}}],
      "journey": [{"catalog": str, "track": str, "step": int, "workflow": str,
                   "everything": int, "agents": int, "progressive": int}]  # delivered tokens
    }
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentload.measure.resources import ResourceReport

PLOT_IDS: dict[str, str] = {
    "latency": "plot-latency-vs-users",
    "throughput": "plot-throughput-vs-users",
    "errors": "plot-errors-vs-users",
    "cpu": "plot-cpu-over-time",
    "memory": "plot-memory-over-time",
    "tokens": "plot-token-reduction",
    "cache": "plot-cache-hit-rate",
    "strategies": "plot-strategy-comparison",
    "journey": "plot-journey-tokens",
}
TABLE_IDS: dict[str, str] = {
    "headline": "table-headline",
    "knee": "table-knee",
    "strategies": "table-strategies",
    "cache": "table-cache-hit-rate",
    "quality": "table-selection-quality",
    "journey": "table-journey-tokens",
}


class StepPoint(BaseModel):
    """One load step; a loadgen ``StepResult`` validates into this (extra fields ignored)."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    users: int
    rate: float | None = None
    throughput_rps: float
    p50_ms: float
    p90_ms: float | None = None
    p99_ms: float
    error_rate: float = 0.0


class CachePoint(BaseModel):
    """Cache hit rate (0..1) at ``t`` seconds into the run, and the counts it is from (if known)."""

    t: float
    hit_rate: float = Field(ge=0.0, le=1.0)
    hits: int | None = None
    misses: int | None = None


class StrategyRow(BaseModel):
    """Per-request cost of one loading strategy; any metric may be missing."""

    strategy: str
    tokens_per_request: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms_per_request: float | None = None
    bytes_per_request: float | None = None
    requests: int | None = None  # measured requests behind the latency figures


class QualityRow(BaseModel):
    """Selection quality of one scenario suite (e.g. precision, recall, exact match)."""

    suite: str
    cases: int = 0
    metrics: dict[str, float] = {}


class JourneyStep(BaseModel):
    """Delivered tokens of one step of a BMad journey under the three loading strategies."""

    catalog: str
    track: str
    step: int
    workflow: str
    everything: int
    agents: int
    progressive: int


class ReportData(BaseModel):
    """Everything the report can show; see the module docstring for the JSON shape."""

    title: str = "agentload: savings, speed and scalability"
    generated_at: str | None = None
    notes: list[str] = []
    headline: dict[str, str | float | int] = {}
    steps: list[StepPoint] = []
    degradation: dict[str, Any] | None = None
    resources: ResourceReport | None = None
    token_reductions: list[float] = []
    cache_hit_rate: list[CachePoint] = []
    strategies: list[StrategyRow] = []
    selection_quality: list[QualityRow] = []
    journey: list[JourneyStep] = []
