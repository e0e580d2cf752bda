"""Per-request telemetry as pure ASGI middleware.

Pure ASGI rather than ``BaseHTTPMiddleware`` because the latter copies the response through
an extra task and stream, which costs more than the whole hot selection path.

After the response has been sent (the client never waits for it) each request is counted
twice, both in memory:
- Prometheus counter and histogram labelled by *route template* (``/api/v1/agents/{agent_id}``),
  never by raw path, so label cardinality is bounded by the number of routes;
- the live Redis figures (``livestats.TelemetryBuffer``: request counts and latency buckets
  per route), which reach Redis in one pipelined call per flush together with the selection
  events handlers queued. Accounting never fails or slows a request.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"


class PromMetrics:
    """Prometheus collectors in their own registry, so several apps can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("agentload_http_requests_total", "HTTP requests by route template",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram(
            "agentload_http_request_duration_seconds", "HTTP request latency by route template",
            ("method", "route"), registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # refusals by cause: "overloaded" (this process's Redis pool was exhausted: Redis is
        # fine) is not "redis_unavailable", which is what operators page on
        # selection GETs answered by ``api.hotpath`` ("served") or passed on to the route ("declined":
        # not a plain hit, or a Redis error the route then answers)
        self.hot_path = Counter("agentload_hot_path_total", "Selection GETs by hot-path outcome", ("outcome",),
                                registry=self.registry)
        self.refused = Counter("agentload_http_refused_total", "503 answers by cause", ("cause",),
                               registry=self.registry)


def route_path(scope: Scope) -> str:
    """The matched route's template; unmatched paths share one label."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED


class Telemetry:
    def __init__(self, app: ASGIApp, prom: PromMetrics) -> None:
        self.app = app
        self.prom = prom

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        scope.setdefault("state", {})["started"] = start
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            method, path = scope.get("method", ""), route_path(scope)
            self.prom.requests.labels(method, path, str(status)).inc()
            self.prom.latency.labels(method, path).observe(seconds)
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is not None:
                runtime.telemetry.add_request(f"{method} {path}", status, seconds * 1000)
