"""Result types of the load generator (pydantic, JSON-serialisable, storable as-is).

Counting conventions, stated once so reports cannot disagree:

* ``scheduled`` = requests planned in the measured window (rate x duration).
* ``sent`` = measured requests actually issued; ``dropped`` = scheduled but never sent
  because the target (or the generator) fell so far behind that the run deadline passed.
* ``completed`` = measured requests that got an HTTP response, whatever its status.
* ``errors`` by kind: ``status_<code>`` for 4xx/5xx responses, ``timeout``, ``connection``,
  ``other``. ``error_rate`` = (errors + dropped) / scheduled: a request that could not even
  be sent is a failure from the client's point of view.
* ``cancelled`` = in flight when the run was cancelled (neither completed nor errors).
* Latency is measured from the *intended* send time (no coordinated omission) and covers
  every response, including error statuses; timeouts and connection errors have no
  response time and appear only in ``errors``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class LatencySummary(BaseModel):
    """Percentiles in milliseconds from an HDR histogram; all 0.0 when ``count`` is 0."""

    count: int = 0
    min: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    stdev: float = 0.0


class SecondSample(BaseModel):
    """One second of the measured window, bucketed by completion time (sent: intended time)."""

    second: int
    sent: int = 0
    completed: int = 0
    errors: int = 0
    throughput_rps: float = 0.0
    p99_ms: float | None = None


class LoadResult(BaseModel):
    """Everything one run measured; ``histogram_b64`` is the encoded HDR latency histogram (µs)."""

    scenario: str
    spec: dict[str, Any]
    complete: bool
    started_at: float = Field(description="wall-clock epoch seconds of the first intended send")
    elapsed_s: float = Field(description="measured window: max(duration, last completion); to cancel")
    offered_rate: float
    scheduled: int
    sent: int
    completed: int
    ok: int
    errors: dict[str, int]
    error_count: int
    dropped: int
    cancelled: int
    error_rate: float
    throughput_rps: float = Field(description="completed responses per second")
    ok_throughput_rps: float = Field(description="2xx/3xx responses per second (goodput)")
    bytes_received: int = Field(description="response body bytes as downloaded")
    warmup_sent: int
    latency: LatencySummary = Field(description="from intended send time (includes queueing)")
    service_time: LatencySummary = Field(description="from actual send time (server + network)")
    send_lag: LatencySummary = Field(description="actual minus intended send time")
    per_label: dict[str, LatencySummary]
    errors_per_label: dict[str, int]
    histogram_b64: str
    timeseries: list[SecondSample]


class StepResult(BaseModel):
    """One step of a step test or stress ramp, flattened for analysis and reports."""

    users: int
    rate: float
    throughput_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    error_rate: float
    breach: str | None = None
    result: LoadResult

    @classmethod
    def from_result(
        cls, result: LoadResult, users: int, rate: float, breach: str | None = None
    ) -> StepResult:
        """Flatten the headline numbers of a run so ``analysis.degradation_analysis`` can read them."""
        return cls(
            users=users,
            rate=rate,
            throughput_rps=result.throughput_rps,
            p50_ms=result.latency.p50,
            p90_ms=result.latency.p90,
            p99_ms=result.latency.p99,
            error_rate=result.error_rate,
            breach=breach,
            result=result,
        )
