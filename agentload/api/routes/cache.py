"""Cache status and on-demand refresh (debounced so a burst of clicks is one refresh)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query

from agentload import keys
from agentload.api.answers import TaskAccepted
from agentload.api.auth import require_token
from agentload.api.failures import AUTH, REDIS_DOWN, VALIDATION
from agentload.api.figures import CACHE_STATUS_EXAMPLE, CacheStatus
from agentload.api.problems import without_paths
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime, task_links
from agentload.api.runtime import Runtime
from agentload.reader.codec import text
from agentload.tasknames import TaskName

router = APIRouter(tags=["cache"])


@router.get("/api/v1/cache/status", summary="Catalog version, key counts, memory, hit rates, last refresh",
            response_model=CacheStatus,
            responses={200: {"content": {"application/json": {"example": CACHE_STATUS_EXAMPLE}}}, 503: REDIS_DOWN})
async def cache_status(rt: Runtime = Depends(runtime)) -> Any:
    status = await rt.store.status()
    # anonymous readers learn what was refused, not where the server keeps its files
    if status.get("catalog_refused"):
        status["catalog_refused"] = without_paths(str(status["catalog_refused"]))
    last = status.get("last_refresh")
    if isinstance(last, dict):
        for field in ("refused", "error"):
            if last.get(field):
                last[field] = without_paths(str(last[field]))
        for error in last.get("errors") or []:
            if isinstance(error, dict) and error.get("reason"):
                error["reason"] = without_paths(str(error["reason"]))
    return ORJSONResponse(status)


@router.post(
    "/api/v1/cache/refresh", status_code=202, response_model=TaskAccepted,
    summary="Re-read the catalog and publish a new version if it changed (`full`: rebuild regardless)",
    description="Debounced: a refresh requested within `settings.refresh_debounce_s` of the previous "
    "one is not enqueued again; the answer names the earlier task with `debounced: true`.",
    dependencies=[Depends(require_token)], responses={**AUTH, 422: VALIDATION, 503: REDIS_DOWN},
)
async def refresh(full: bool = Query(False, description="Force a full rebuild"),
                  rt: Runtime = Depends(runtime)) -> Any:
    return ORJSONResponse(await enqueue_refresh(rt, full), status_code=202)


async def enqueue_refresh(rt: Runtime, full: bool) -> dict[str, Any]:
    """Enqueue a refresh unless one was within the debounce window: the task's links and
    ``debounced``. Raises the enqueuer's errors (Redis unavailable or out of memory)."""
    task_id = str(uuid.uuid4())
    window_ms = max(1, int(rt.settings.refresh_debounce_s * 1000))
    if not await rt.redis.set(keys.REFRESH_DEBOUNCE, task_id, nx=True, px=window_ms):
        existing = text(await rt.redis.get(keys.REFRESH_DEBOUNCE))
        if existing is not None:
            return {**task_links(existing), "debounced": True}
        return {"debounced": True}  # window closed in between
    try:
        await rt.enqueuer.send(TaskName.REFRESH, {"force": full}, task_id=task_id)
    except Exception:
        await rt.redis.delete(keys.REFRESH_DEBOUNCE)
        raise
    return {**task_links(task_id), "debounced": False}
