"""Admission: past ``api_limit_concurrency`` requests in flight, this process answers 503
"overloaded" at once.

Why here and not uvicorn's ``limit_concurrency`` (which ``api.serve`` used to pass): uvicorn
counts open *connections* as well as requests, so a few hundred idle keep-alive clients were
enough to refuse every request; its refusal is plain text without ``Retry-After``, it closes
the connection (the client reconnects: more work under overload), it logs a warning per
refused request, and ``/metrics`` never sees it. And why a bound at all: without one an
overloaded process takes every request it reads, its event loop falls seconds behind, and the
Redis replies that arrived long ago are read after their 1 s timeout, so an overload came out
as "Redis is unavailable: timed out", the answer operators page on. A bound on the requests
in flight bounds how far the loop falls behind.

The refusal is the JSON body every other 503 has, ``{"detail": "overloaded: ..."}`` with
``Retry-After: 1``, counted in ``agentload_http_refused_total{cause="overloaded"}`` (apart
from ``redis_unavailable``). Liveness and ``/metrics`` are never refused: an orchestrator must
not restart a process for being busy, and an operator must see why it is.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from agentload.api.middleware import PromMetrics
from agentload.api.problems import OVERLOADED as DETAIL

OVERLOADED = orjson.dumps({"detail": DETAIL})
EXEMPT = frozenset({"/healthz", "/metrics"})
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(OVERLOADED)).encode()),
            (b"retry-after", b"1")]


class Admission:
    """Pure ASGI middleware counting the HTTP requests inside ``app``; ``limit`` at most."""

    def __init__(self, app: ASGIApp, prom: PromMetrics, limit: int) -> None:
        self.app, self.limit, self.in_flight = app, limit, 0
        self.refused = prom.refused.labels("overloaded")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused.inc()
            await send({"type": "http.response.start", "status": 503, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": OVERLOADED})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
