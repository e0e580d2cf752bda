"""The FastAPI application: ``create_app(settings)`` and the module-level ``app`` for uvicorn.

``uvicorn agentload.api.app:app`` serves it. Each app owns its Prometheus registry and its
runtime (one Redis pool, one Celery client) created in the lifespan, so tests can build
several apps with different settings in one process.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from agentload.api import errors, openapi
from agentload.api.admission import Admission
from agentload.api.guard import Guard
from agentload.api.hotpath import PATH as HOT_PATH
from agentload.api.hotpath import HotPath
from agentload.api.middleware import PromMetrics, Telemetry
from agentload.api.responses import ORJSONResponse
from agentload.api.routes import (
    agents,
    cache,
    catalog,
    flags,
    health,
    perf_jobs,
    performance,
    projects,
    selection,
    tasks,
)
from agentload.api.runtime import close_runtime, open_runtime
from agentload.settings import Settings, get_settings

DESCRIPTION = """\
Context-aware agent loading for BMad Method projects.

The request path only reads selections that Celery workers precomputed into Redis; a miss is
handed to a worker (`202` + `poll_url`). Mutating endpoints need `Authorization: Bearer <token>`.
Errors are JSON `{"detail": ...}` (the `Problem` schema): 422 names the bad field in `detail` and lists
each one in `errors`, 503 means Redis (or the database) is unreachable.
"""

TAGS = [
    {"name": "selection", "description": "The hot path: which agents to load for a context"},
    {"name": "agents", "description": "Agent definitions, manifest and preloading"},
    {"name": "projects", "description": "Per-project workflow state"},
    {"name": "tasks", "description": "Polling enqueued work"},
    {"name": "cache", "description": "Cache status and refresh"},
    {"name": "flags", "description": "Runtime flags"},
    {"name": "performance", "description": "Live and historical figures"},
    {"name": "health", "description": "Liveness, readiness and Prometheus metrics"},
]


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """A new app; ``settings`` default to ``get_settings()`` (the environment).

    ``freeze_gc`` (the served ``app``): once started, move every object that exists so far
    (modules, routes, models: hundreds of thousands) out of the garbage collector's reach.
    Without it each full collection walks them all, a 30 ms pause that shows up directly
    as the hot path's p99 under load.
    """
    settings = settings or get_settings()
    prom = PromMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = open_runtime(settings)
        app.state.runtime.lag.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await close_runtime(app.state.runtime)

    # fastapi-offline: the same FastAPI app, with /docs and /redoc served from bundled Swagger UI
    # and ReDoc files (FastAPI's own pages load them from a CDN: a blank page offline)
    # one schema per model (no `-Input`/`-Output` pairs): answers are documented as the models
    # validate, which is how a generated client reads them
    app = FastAPIOffline(title="agentload", version="0.1.0", description=DESCRIPTION, openapi_tags=TAGS,
                         lifespan=lifespan, default_response_class=ORJSONResponse,
                         separate_input_output_schemas=False, generate_unique_id_function=openapi.operation_id)
    app.state.settings = settings
    app.state.prom = prom
    errors.install(app)
    openapi.install(app)
    for module in (health, selection, agents, catalog, tasks, projects, cache, flags, performance, perf_jobs):
        app.include_router(module.router)  # selection before agents: its path beats /agents/{agent_id}

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics of this process",
             response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {
                 "schema": {"type": "string"},
                 "example": "agentload_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3.0"}}}})
    async def prometheus_metrics(_: Request) -> Response:
        return Response(generate_latest(prom.registry), media_type=CONTENT_TYPE_LATEST)

    # Guard (token of mutating requests, body size) runs before any parsing; Telemetry outside it
    # still counts what the guard refused
    # the cached selection GET answered before the router (``api.hotpath``), inside the guard
    if settings.hot_path:
        hot_route = next(r for r in selection.router.routes if getattr(r, "path", None) == HOT_PATH)
        app.add_middleware(HotPath, prom=prom, route=hot_route)
    app.add_middleware(Guard, token=settings.api_token, max_body_bytes=settings.max_body_bytes)
    # past api_limit_concurrency requests in flight: 503 overloaded at once (``api.admission``),
    # inside Telemetry, which counts those answers too
    app.add_middleware(Admission, prom=prom, limit=settings.api_limit_concurrency)
    app.add_middleware(Telemetry, prom=prom)
    return app


app = create_app(freeze_gc=True)
