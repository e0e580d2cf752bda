"""A project's workflow state: stored in Redis, used to fill in selection contexts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import ValidationError

from agentload.api import transitions
from agentload.api.answers import ProjectState, ProjectStateStored
from agentload.api.auth import require_token
from agentload.api.errors import validation_response
from agentload.api.failures import AUTH, BODY, NO_ROUTE, REDIS_DOWN, VALIDATION, problem
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime
from agentload.api.schemas import SAFE_ID, WorkflowState
from agentload.context import Context

router = APIRouter(tags=["projects"])
PROJECT = Path(pattern=SAFE_ID, max_length=128, examples=["acme-shop"])
STATE_EXAMPLE = WorkflowState.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@router.put("/api/v1/projects/{project_id}/workflow-state",
            summary="Store where a project stands in its BMad path", response_model=ProjectStateStored,
            description="Replaces the stored state. Selections for this project (`project_id=` on "
            "optimized-loading) fill parameters they leave out from it, and the change "
            "`last finished workflow -> next_workflow` feeds the transition model used for prediction.",
            dependencies=[Depends(require_token)],
            responses={200: {"content": {"application/json": {"example": {
                "project_id": "acme-shop", "state": STATE_EXAMPLE, "transitions_counted": 1}}}},
                **AUTH, **BODY, 404: NO_ROUTE, 422: VALIDATION, 503: REDIS_DOWN})
async def put_state(body: WorkflowState, project_id: str = PROJECT, rt: Runtime = Depends(runtime)) -> Any:
    if len(body.workflow_history) > rt.settings.max_history_len:
        return validation_response([{"loc": ("body", "workflow_history"), "type": "too_long",
                                     "msg": f"at most {rt.settings.max_history_len} items"}])
    state = body.model_dump(mode="json")
    try:
        Context(**state)  # the stored state must always make a valid selection context
    except ValidationError as exc:
        return validation_response(exc.errors())
    await rt.store.put_workflow_state(project_id, state)
    version = await rt.store.current_version()
    aliases = (await rt.store.resolver(version)).aliases if version else None
    counted = await transitions.observe(rt.sync_redis, project_id, state, aliases)
    return ORJSONResponse({"project_id": project_id, "state": state, "transitions_counted": counted})


@router.get("/api/v1/projects/{project_id}/workflow-state", summary="A project's stored workflow state",
            response_model=ProjectState,
            responses={200: {"content": {"application/json": {"example": {
                "project_id": "acme-shop", "state": STATE_EXAMPLE}}}},
                404: problem("No state stored for this project", "unknown project 'acme-shop'"),
                422: VALIDATION, 503: REDIS_DOWN})
async def get_state(project_id: str = PROJECT, rt: Runtime = Depends(runtime)) -> Any:
    state = await rt.store.get_workflow_state(project_id)
    if state is None:
        raise HTTPException(404, f"unknown project {project_id!r}")
    return ORJSONResponse({"project_id": project_id, "state": state})
