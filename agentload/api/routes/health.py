"""Liveness and readiness.

``/healthz`` touches nothing but the process: an orchestrator restarts a process that fails
it, and a Redis outage is no reason to restart API processes. ``/readyz`` answers 503 until
Redis answers and a catalog version is published, so a load balancer only routes traffic
to a process that can serve selections. A process too busy to get Redis's answer in time
(its pool exhausted, or its event loop running late: ``api.looplag``) is "not ready" as
``overloaded`` with ``redis: ok``, never reported as a Redis outage.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentload import keys
from agentload.api.figures import Liveness, Readiness, Unready
from agentload.api.problems import OVERLOADED, is_overload, redis_failure, without_paths
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.cache import enqueue_refresh
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime
from agentload.reader.codec import loads

router = APIRouter(tags=["health"])
log = logging.getLogger("agentload.api")


@router.get("/healthz", summary="Liveness (no dependencies checked)", response_model=Liveness,
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> ORJSONResponse:
    return ORJSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: Redis answers and a catalog version is published",
            response_model=Readiness,
            responses={200: {"content": {"application/json": {"example": {
                "status": "ready", "redis": "ok", "version": "20250101T000000-ab12cd"}}}},
                       503: {"model": Unready, "description": "Not ready: `detail` says why",
                             "content": {"application/json": {"example": {
                                 "status": "not ready", "redis": "ok", "version": "20250101T000000-ab12cd",
                                 "detail": "the live catalog version is incomplete (keys evicted or deleted); "
                                 "a refresh is republishing it",
                                 "refresh": {"task_id": "3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11",
                                             "poll_url": "/api/v1/tasks/3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11",
                                             "debounced": False}}}}}})
async def readyz(rt: Runtime = Depends(runtime)) -> ORJSONResponse:
    """200 while a version is served; 503 before the first one, with the reason a refresh gave
    when it refused the catalog (no agents, unreadable root). A refusal while a version is live
    is reported as ``catalog_refused`` beside ``status: ready``: the old version keeps serving."""
    body: dict[str, Any] = {"status": "ready", "redis": "ok", "version": None}
    try:
        await rt.redis.ping()
        body["version"] = await rt.store.current_version()
        last = loads(await rt.redis.get(keys.LAST_REFRESH)) or {}
    except RedisError as exc:
        return _not_ready(rt, body, exc)
    refused = last.get("refused") if isinstance(last, dict) else None
    refused = without_paths(str(refused)) if refused else None
    if body["version"] is None:
        detail = "no catalog version is published yet"
        body.update(status="not ready", detail=f"{detail}: the catalog was refused ({refused})" if refused else detail)
        return ORJSONResponse(body, status_code=503)
    if refused:
        body["catalog_refused"] = refused
    if isinstance(last, dict) and last.get("redis_warning"):
        body["redis_warning"] = last["redis_warning"]
    try:
        gaps = await rt.store.version_gaps(body["version"])
    except RedisError as exc:
        return _not_ready(rt, body, exc)
    if gaps:  # keys evicted or deleted: not servable until a refresh republishes the version
        log.warning("live catalog version %s misses keys (%d in a sample); requesting a refresh", body["version"], gaps)
        body.update(status="not ready", detail="the live catalog version is incomplete (keys evicted or deleted); "
                    "a refresh is republishing it")
        try:
            body["refresh"] = await enqueue_refresh(rt, full=False)
        except RedisError as exc:
            log.warning("could not enqueue the repairing refresh: %s", exc)
        return ORJSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return ORJSONResponse(body)


def _not_ready(rt: Runtime, body: dict[str, Any], exc: RedisError) -> ORJSONResponse:
    """503 for a Redis failure: "overloaded" (Redis ok) when this process was too busy to get
    the answer, else "Redis is unavailable" naming the kind of failure."""
    if is_overload(exc) or (isinstance(exc, RedisTimeoutError) and rt.lag.behind()):
        body.update(status="not ready", detail=OVERLOADED)
        return ORJSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    log.warning("readiness: redis unavailable: %s", exc)
    body.update(status="not ready", redis="unavailable", detail=f"Redis is unavailable: {redis_failure(exc)}")
    return ORJSONResponse(body, status_code=503)
