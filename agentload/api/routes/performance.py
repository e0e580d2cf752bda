"""Performance figures: live ones from Redis, history from SQL (never written on a request)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from agentload import keys
from agentload.api import history, livestats
from agentload.api.failures import DB_DOWN, REDIS_DOWN, VALIDATION
from agentload.api.figures import CACHE_STATUS_EXAMPLE, McpFigures, PerformanceFigures, TokenUsage
from agentload.api.problems import database_failure
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime
from agentload.tasknames import Queue

log = logging.getLogger("agentload.api")
router = APIRouter(tags=["performance"])
SELECTION_ROUTE = "GET /api/v1/agents/optimized-loading"
LATENCY = {"count": 1200, "mean_ms": 1.41, "p50_ms": 1.12, "p90_ms": 2.3, "p99_ms": 4.8}


@router.get(
    "/api/v1/performance/metrics", summary="Live request/cache/queue/MCP figures plus recorded history",
    response_model=PerformanceFigures,
    description="`live` comes from Redis counters every API and MCP process adds to; `history` from the "
    "database (recent performance metrics and cache snapshots). A database failure leaves `history` "
    "empty with `history_error` set; the live part still answers.",
    responses={200: {"content": {"application/json": {"example": {
        "live": {"endpoints": {SELECTION_ROUTE: {"requests": 1200, "by_status": {"200": 1198, "202": 2},
                                                 "latency": LATENCY}},
                 "selections_served": {"api": 1198, "mcp": 40, "total": 1238},
                 "cache": CACHE_STATUS_EXAMPLE, "queues": {"default": 0, "catalog": 0,
                 "metrics": 0, "long": 1}, "events_pending": 12, "mcp": {}},
        "history": {"performance_metrics": [], "cache_performance": []}}}}}, 422: VALIDATION, 503: REDIS_DOWN},
)
async def performance_metrics(history_limit: int = Query(50, ge=0, le=500), rt: Runtime = Depends(runtime)) -> Any:
    await rt.telemetry.flush()  # this process's last few ms of figures, before reading them back
    endpoints = await livestats.endpoint_stats(rt.redis)
    tools = await livestats.tool_stats(rt.redis)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for queue in Queue:
            pipe.llen(queue)
        pipe.llen(keys.SELECTION_EVENTS)
        *depths, pending = await pipe.execute()
    api = int(endpoints.get(SELECTION_ROUTE, {}).get("by_status", {}).get("200", 0))
    sel = tools.get("select_agents", {})
    mcp = int(sel.get("calls", 0)) - int(sel.get("errors", 0))
    live = {"endpoints": endpoints, "selections_served": {"api": api, "mcp": mcp, "total": api + mcp},
            "cache": await rt.store.status(), "queues": {q.value: n for q, n in zip(Queue, depths, strict=True)},
            "events_pending": pending, "mcp": tools}
    past: dict[str, Any] = {}
    if history_limit:
        past = await history.performance_history(rt.settings.database_url, history_limit)
    body: dict[str, Any] = {"live": live, "history": {k: v for k, v in past.items() if k != "history_error"}}
    if "history_error" in past:
        body["history_error"] = past["history_error"]
    return ORJSONResponse(body)


@router.get(
    "/api/v1/performance/token-usage", summary="Baseline vs optimized tokens, grouped",
    response_model=TokenUsage,
    responses={200: {"content": {"application/json": {"example": {"group_by": "strategy", "rows": [
        {"group_by": "strategy", "key": "selective", "count": 1238, "baseline_tokens": 14894378,
         "optimized_tokens": 1716842, "saved_tokens": 13177536, "mean_reduction": 0.88,
         "overall_reduction": 0.8847}]}}}},
        422: VALIDATION, 503: DB_DOWN},
)
async def token_usage(
    group_by: Literal["strategy", "user", "project", "day"] = Query("strategy"),
    limit: int = Query(100, ge=1, le=1000),
    rt: Runtime = Depends(runtime),
) -> Any:
    try:
        rows = await history.token_usage(rt.settings.database_url, group_by, limit)
    except Exception as exc:
        log.warning("database unavailable: %s", exc)
        raise HTTPException(503, f"database unavailable: {database_failure(exc)}") from exc
    return ORJSONResponse({"group_by": group_by, "rows": rows})


@router.get(
    "/api/v1/performance/mcp-server", summary="MCP server figures per tool", response_model=McpFigures,
    responses={200: {"content": {"application/json": {"example": {"tools": {"load_agent": {
        "calls": 40, "errors": 0, "error_rate": 0.0, "tokens_served": 46960, "latency": LATENCY}}}}}},
        503: REDIS_DOWN},
)
async def mcp_server(rt: Runtime = Depends(runtime)) -> Any:
    await rt.telemetry.flush()
    return ORJSONResponse({"tools": await livestats.tool_stats(rt.redis)})
