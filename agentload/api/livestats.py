"""Live request and MCP-tool figures kept in Redis as fixed-bucket latency histograms.

Why fixed buckets in Redis hashes rather than a reservoir: every API process (and the MCP
server) adds to the same counters with ``HINCRBY`` (one pipeline per flush of its
``TelemetryBuffer``), so figures aggregate across processes for free, never grow, and a
reader computes percentiles from a single ``HGETALL``. The price is bucket resolution, which is why the
buckets are dense where the targets are (sub-millisecond to 50 ms).

Layout (keys from ``agentload.keys``):
- ``REQUEST_COUNTS`` hash: ``"<METHOD> <route>"`` -> requests, ``"<METHOD> <route>|<status>"`` ->
  requests by status code (few distinct codes per route, so bounded).
- ``latency_key("<METHOD> <route>")`` hash: bucket upper bound in ms (``"inf"`` last) -> count,
  ``"sum_us"`` -> total microseconds.
- ``MCP_STATS`` hash: ``"<tool>|calls"``, ``"<tool>|errors"``, ``"<tool>|tokens"``,
  ``"<tool>|sum_us"`` and ``"<tool>|lat|<bucket>"``.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from agentload import keys

BUCKETS_MS: tuple[float, ...] = (
    0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500,
    1000, 2500, 5000, 10000,
)
_LABELS: tuple[str, ...] = tuple(f"{b:g}" for b in BUCKETS_MS) + ("inf",)
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99)
EVENTS_CAP = 100_000  # the batching task drains far faster; the cap only bounds a stalled drain
log = logging.getLogger("agentload.api")


def bucket_label(ms: float) -> str:
    """The label of the smallest bucket whose upper bound is >= ``ms``."""
    return _LABELS[bisect_left(BUCKETS_MS, ms)]


class TelemetryBuffer:
    """Counters and selection events of this process, sent to Redis every ``interval_s``.

    Why buffer: a pipeline per request costs a Redis round trip and ~200 us of client CPU,
    a third of the hot path. Summed in process and flushed as one pipeline every 50 ms,
    the figures reach Redis at most one interval late (a reader in this process flushes
    first) and the request path does only dictionary increments. A failed flush puts the
    counters back (bounded: one entry per route and bucket) and keeps at most
    ``max_events`` events, so an outage loses nothing but the oldest events.
    """

    def __init__(self, redis: Redis, interval_s: float = 0.05, max_events: int = 10_000) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.max_events = max_events
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._events: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lat_keys: dict[str, str] = {}

    def add_request(self, route: str, status: int, ms: float) -> None:
        """Count one HTTP request (no I/O)."""
        c = self._counts
        c[(keys.REQUEST_COUNTS, route)] += 1
        c[(keys.REQUEST_COUNTS, f"{route}|{status}")] += 1
        lat = self._lat_keys.get(route) or self._lat_keys.setdefault(route, keys.latency_key(route))
        c[(lat, bucket_label(ms))] += 1
        c[(lat, "sum_us")] += int(ms * 1000)
        self._schedule()

    def add_tool(self, tool: str, ms: float, *, error: bool, tokens: int) -> None:
        """Count one MCP tool call (no I/O)."""
        c = self._counts
        c[(keys.MCP_STATS, f"{tool}|calls")] += 1
        if error:
            c[(keys.MCP_STATS, f"{tool}|errors")] += 1
        if tokens:
            c[(keys.MCP_STATS, f"{tool}|tokens")] += tokens
        c[(keys.MCP_STATS, f"{tool}|lat|{bucket_label(ms)}")] += 1
        c[(keys.MCP_STATS, f"{tool}|sum_us")] += int(ms * 1000)
        self._schedule()

    def add_event(self, event: bytes) -> None:
        """Queue one selection event for ``keys.SELECTION_EVENTS``."""
        self._events.append(event)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval_s, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Send everything buffered in one pipeline (callers may flush before reading)."""
        counts, events = self._counts, self._events
        if not counts and not events:
            return
        self._counts, self._events = defaultdict(int), []
        try:
            pipe = self.redis.pipeline(transaction=False)
            for (key, field), n in counts.items():
                pipe.hincrby(key, field, n)
            if events:
                pipe.rpush(keys.SELECTION_EVENTS, *events)
                pipe.ltrim(keys.SELECTION_EVENTS, -EVENTS_CAP, -1)
            await pipe.execute()
        except Exception as exc:  # put it back; the next flush retries
            for item, n in counts.items():
                self._counts[item] += n
            self._events = (events + self._events)[-self.max_events:]
            log.debug("telemetry flush failed: %s", exc)

    async def aclose(self) -> None:
        """Stop the timer and send what is left (best effort)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()


def summarize(counts: Mapping[str, int], sum_us: int = 0) -> dict[str, Any]:
    """Count, mean and interpolated p50/p90/p99 (ms) from bucket counts keyed by label."""
    per_bucket = [int(counts.get(label, 0)) for label in _LABELS]
    total = sum(per_bucket)
    out: dict[str, Any] = {"count": total, "mean_ms": round(sum_us / 1000 / total, 3) if total else None}
    for q in QUANTILES:
        out[f"p{round(q * 100):d}_ms"] = _quantile(per_bucket, total, q) if total else None
    return out


def _quantile(per_bucket: list[int], total: int, q: float) -> float:
    """Linear interpolation inside the bucket where the cumulative count reaches ``q``."""
    target = q * total
    seen = 0
    for i, n in enumerate(per_bucket):
        if n and seen + n >= target:
            lower = BUCKETS_MS[i - 1] if i > 0 else 0.0
            if i >= len(BUCKETS_MS):  # overflow bucket: all we know is "above the last bound"
                return lower
            return round(lower + (BUCKETS_MS[i] - lower) * (target - seen) / n, 3)
        seen += n
    return BUCKETS_MS[-1]


def _decode(raw: Mapping[Any, Any]) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


async def endpoint_stats(redis: Redis) -> dict[str, dict[str, Any]]:
    """Per-route request counts, status classes and latency percentiles (two round trips)."""
    counts = _decode(await redis.hgetall(keys.REQUEST_COUNTS))
    routes = sorted(k for k in counts if "|" not in k)
    async with redis.pipeline(transaction=False) as pipe:
        for route in routes:
            pipe.hgetall(keys.latency_key(route))
        hists: Iterable[Mapping[Any, Any]] = await pipe.execute()
    out: dict[str, dict[str, Any]] = {}
    for route, raw in zip(routes, hists, strict=True):
        hist = _decode(raw)
        by_status = {k.split("|", 1)[1]: v for k, v in counts.items() if k.startswith(f"{route}|")}
        out[route] = {"requests": counts[route], "by_status": by_status,
                      "latency": summarize(hist, hist.get("sum_us", 0))}
    return out


async def tool_stats(redis: Redis) -> dict[str, dict[str, Any]]:
    """Per-tool calls, errors, tokens served and latency percentiles of the MCP server."""
    raw = _decode(await redis.hgetall(keys.MCP_STATS))
    tools: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        tool, _, rest = field.partition("|")
        tools.setdefault(tool, {})[rest] = value
    out: dict[str, dict[str, Any]] = {}
    for tool, fields in sorted(tools.items()):
        hist = {k[4:]: v for k, v in fields.items() if k.startswith("lat|")}
        calls = fields.get("calls", 0)
        errors = fields.get("errors", 0)
        out[tool] = {
            "calls": calls,
            "errors": errors,
            "error_rate": round(errors / calls, 4) if calls else 0.0,
            "tokens_served": fields.get("tokens", 0),
            "latency": summarize(hist, fields.get("sum_us", 0)),
        }
    return out
