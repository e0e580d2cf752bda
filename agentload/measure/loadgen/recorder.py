"""Collects per-request outcomes into HDR histograms, counters and a per-second series.

HDR histograms (1 µs .. 60 s, 3 significant digits) keep percentiles exact to 0.1 % at any
request count with constant memory, and their encoded form can be stored and merged later.
Per-second p99 uses the raw latencies of that second instead, because one HDR histogram
per second would cost far more memory than the values themselves; a second is reduced to
its p99 as soon as a later completion arrives, so memory stays bounded by one second.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from agentload.measure.analysis import percentile
from agentload.measure.loadgen.results import LatencySummary, LoadResult, SecondSample

HIST_LOWEST_US = 1
HIST_HIGHEST_US = 60_000_000
HIST_DIGITS = 3


def new_histogram() -> HdrHistogram:
    """A latency histogram in microseconds with the project-wide range and precision."""
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_DIGITS)


def record_seconds(hist: HdrHistogram, seconds: float) -> None:
    """Record a duration, clamped into the histogram's range rather than dropped."""
    micros = int(round(seconds * 1_000_000))
    hist.record_value(min(max(micros, HIST_LOWEST_US), HIST_HIGHEST_US))


def summarize(hist: HdrHistogram) -> LatencySummary:
    """Percentiles (ms) of an HDR histogram."""
    count = int(hist.get_total_count())
    if count == 0:
        return LatencySummary()

    def ms(value: Any) -> float:
        return round(float(value) / 1000.0, 3)

    return LatencySummary(
        count=count,
        min=ms(hist.get_min_value()),
        p50=ms(hist.get_value_at_percentile(50.0)),
        p90=ms(hist.get_value_at_percentile(90.0)),
        p95=ms(hist.get_value_at_percentile(95.0)),
        p99=ms(hist.get_value_at_percentile(99.0)),
        p999=ms(hist.get_value_at_percentile(99.9)),
        max=ms(hist.get_max_value()),
        mean=ms(hist.get_mean_value()),
        stdev=ms(hist.get_stddev()),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finished request; times are loop-clock seconds."""

    label: str
    intended: float
    sent_at: float
    ended: float
    status: int | None
    error: str | None
    nbytes: int
    measured: bool


class Recorder:
    """Accumulates outcomes; ``live_*`` counters cover warm-up too (for progress only)."""

    def __init__(self, measure_start: float) -> None:
        self.measure_start = measure_start
        self.latency = new_histogram()
        self.service = new_histogram()
        self.lag = new_histogram()
        self.labels: dict[str, HdrHistogram] = {}
        self.label_errors: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.sent = self.completed = self.ok = self.warmup_sent = 0
        self.dropped = self.cancelled = self.bytes_received = 0
        self.last_end = measure_start
        self.live_sent = self.live_completed = self.live_errors = 0
        self.sent_per_s: dict[int, int] = defaultdict(int)
        self.done_per_s: dict[int, int] = defaultdict(int)
        self.errors_per_s: dict[int, int] = defaultdict(int)
        self.lat_per_s: dict[int, list[float]] = defaultdict(list)
        self.p99_per_s: dict[int, float] = {}

    def _second(self, t: float) -> int:
        return max(0, int(t - self.measure_start))

    def _close_seconds(self, before: int) -> None:
        """Completion times only grow, so seconds before ``before`` are final: keep just their p99."""
        for sec in [s for s in self.lat_per_s if s < before]:
            self.p99_per_s[sec] = round(percentile(self.lat_per_s.pop(sec), 99.0), 3)

    def on_sent(self, intended: float, sent_at: float, measured: bool) -> None:
        """Count a request as issued and how late it left compared with its schedule."""
        self.live_sent += 1
        if not measured:
            self.warmup_sent += 1
            return
        self.sent += 1
        self.sent_per_s[self._second(intended)] += 1
        record_seconds(self.lag, sent_at - intended)

    def on_done(self, o: Outcome) -> None:
        """Record a finished request (response or failure)."""
        self.live_completed += o.status is not None
        self.live_errors += o.error is not None
        if not o.measured:
            return
        sec = self._second(o.ended)
        self.last_end = max(self.last_end, o.ended)
        self.bytes_received += o.nbytes
        if o.error is not None:
            self.errors[o.error] += 1
            self.label_errors[o.label] += 1
            self.errors_per_s[sec] += 1
        if o.status is None:
            return
        self.completed += 1
        self.ok += o.error is None
        self.done_per_s[sec] += 1
        latency = o.ended - o.intended
        record_seconds(self.latency, latency)
        record_seconds(self.service, o.ended - o.sent_at)
        record_seconds(self.labels.setdefault(o.label, new_histogram()), latency)
        if sec not in self.lat_per_s:
            self._close_seconds(sec)
        self.lat_per_s[sec].append(latency * 1000.0)

    def timeseries(self) -> list[SecondSample]:
        """Per-second samples from 0 to the last second with any activity."""
        seconds = [*self.sent_per_s, *self.done_per_s, *self.errors_per_s]
        if not seconds:
            return []
        self._close_seconds(max(seconds) + 1)
        out = []
        for sec in range(max(seconds) + 1):
            out.append(
                SecondSample(
                    second=sec,
                    sent=self.sent_per_s.get(sec, 0),
                    completed=self.done_per_s.get(sec, 0),
                    errors=self.errors_per_s.get(sec, 0),
                    throughput_rps=float(self.done_per_s.get(sec, 0)),
                    p99_ms=self.p99_per_s.get(sec),
                )
            )
        return out

    def result(
        self, *, scenario: str, spec: dict[str, Any], scheduled: int, complete: bool,
        window_end: float, started_at: float, offered_rate: float,
    ) -> LoadResult:
        """Freeze everything recorded into a ``LoadResult``."""
        elapsed = max(window_end - self.measure_start, 0.0)
        error_count = sum(self.errors.values())
        return LoadResult(
            scenario=scenario,
            spec=spec,
            complete=complete,
            started_at=started_at,
            elapsed_s=round(elapsed, 6),
            offered_rate=offered_rate,
            scheduled=scheduled,
            sent=self.sent,
            completed=self.completed,
            ok=self.ok,
            errors=dict(self.errors),
            error_count=error_count,
            dropped=self.dropped,
            cancelled=self.cancelled,
            error_rate=(error_count + self.dropped) / scheduled if scheduled else 0.0,
            throughput_rps=self.completed / elapsed if elapsed > 0 else 0.0,
            ok_throughput_rps=self.ok / elapsed if elapsed > 0 else 0.0,
            bytes_received=self.bytes_received,
            warmup_sent=self.warmup_sent,
            latency=summarize(self.latency),
            service_time=summarize(self.service),
            send_lag=summarize(self.lag),
            per_label={k: summarize(h) for k, h in sorted(self.labels.items())},
            errors_per_label=dict(self.label_errors),
            histogram_b64=_encode(self.latency),
            timeseries=self.timeseries(),
        )


def _encode(hist: HdrHistogram) -> str:
    encoded = hist.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)
