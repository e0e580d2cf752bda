"""Polling a task enqueued by the API (or anyone) through the Celery result backend."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from agentload.api.answers import TaskState
from agentload.api.failures import NO_ROUTE, REDIS_DOWN, VALIDATION
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime

router = APIRouter(tags=["tasks"])


@router.get(
    "/api/v1/tasks/{task_id}", response_model=TaskState, summary="State, progress and result of a task",
    description="Celery semantics: an id the backend has never seen (unknown, expired after 24 h, or "
    "still queued) is reported as `PENDING`, so an unknown id is not a 404. `PROGRESS` carries the "
    "job's progress meta; `SUCCESS` its JSON result; `FAILURE` the error as text (no traceback).",
    responses={200: {"content": {"application/json": {"example": {
        "task_id": "3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11", "state": "SUCCESS", "ready": True,
        "progress": None, "result": {"key": "12bac6ef84e523ba768f1f86"}, "error": None}}}},
        404: NO_ROUTE, 422: VALIDATION, 503: REDIS_DOWN},
)
async def task_state(task_id: str = Path(max_length=200), rt: Runtime = Depends(runtime)) -> Any:
    return ORJSONResponse(await rt.enqueuer.state(task_id))
