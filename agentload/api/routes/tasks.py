"""Polling a task the API or the MCP server enqueued, through the Celery result backend."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path

from agentload import keys
from agentload.api.answers import TaskState
from agentload.api.failures import REDIS_DOWN, VALIDATION, problem
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime

router = APIRouter(tags=["tasks"])
UNKNOWN_TASK = (f"unknown task id: never issued here, or its result expired (results are kept "
                f"{keys.TASK_RESULT_TTL_S} s after the task ends)")


@router.get(
    "/api/v1/tasks/{task_id}", response_model=TaskState, summary="State, progress and result of a task",
    description="`PENDING`: issued by this service and not started yet (queued). `PROGRESS` carries the "
    "job's progress meta; `SUCCESS` its JSON result; `FAILURE` the error as text (no traceback). An id "
    "this service never issued, or whose result has expired, is a 404.",
    responses={200: {"content": {"application/json": {"example": {
        "task_id": "3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11", "state": "SUCCESS", "ready": True,
        "progress": None, "result": {"key": "12bac6ef84e523ba768f1f86"}, "error": None}}}},
        404: problem("An id never issued here, or expired (also: a path the router does not know)", UNKNOWN_TASK),
        422: VALIDATION, 503: REDIS_DOWN},
)
async def task_state(task_id: str = Path(max_length=200), rt: Runtime = Depends(runtime)) -> Any:
    state = await rt.enqueuer.state(task_id)
    if state is None:
        raise HTTPException(404, UNKNOWN_TASK)
    return ORJSONResponse(state)
