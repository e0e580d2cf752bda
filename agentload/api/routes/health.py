"""Liveness and readiness.

``/healthz`` touches nothing but the process: an orchestrator restarts a process that fails
it, and a Redis outage is no reason to restart API processes. ``/readyz`` answers 503 until
Redis answers and a catalog version is published, so a load balancer only routes traffic
to a process that can serve selections.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from redis.exceptions import RedisError

from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness (no dependencies checked)",
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> ORJSONResponse:
    return ORJSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: Redis answers and a catalog version is published",
            responses={200: {"content": {"application/json": {"example": {
                "status": "ready", "redis": "ok", "version": "20250101T000000-ab12cd"}}}},
                       503: {"content": {"application/json": {"example": {
                           "status": "not ready", "redis": "ok", "version": None,
                           "detail": "no catalog version is published yet"}}}}})
async def readyz(rt: Runtime = Depends(runtime)) -> ORJSONResponse:
    body: dict[str, Any] = {"status": "ready", "redis": "ok", "version": None}
    try:
        await rt.redis.ping()
        body["version"] = await rt.store.current_version()
    except RedisError as exc:
        body.update(status="not ready", redis="unavailable", detail=f"Redis is unavailable: {exc}")
        return ORJSONResponse(body, status_code=503)
    if body["version"] is None:
        body.update(status="not ready", detail="no catalog version is published yet")
        return ORJSONResponse(body, status_code=503)
    return ORJSONResponse(body)
