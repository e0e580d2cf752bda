"""Request bodies and documented response shapes (OpenAPI examples live here).

Bodies forbid unknown fields: a typo'd field name is a 422 naming it rather than a silently
ignored hint. Identifiers that end up inside Redis keys are restricted to a safe alphabet.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentload.context import Context, Phase

SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
ProjectId = Field(default=None, pattern=SAFE_ID, max_length=128,
                  description="Project id (letters, digits, ._:@-)", examples=["acme-shop"])

SELECTION_EXAMPLE: dict[str, Any] = {
    "agents": [{"id": "pm", "title": "Product Manager", "tokens": 1174,
                "reasons": [{"rule": "path:next-workflow", "workflow": "prd"}]}],
    "manifest": "Other agents (not loaded; request one with load_agent <id>):\n- analyst: Business Analyst ...",
    "manifest_tokens": 212, "loaded_tokens": 1174, "baseline_tokens": 12031, "optimized_tokens": 1386,
    "file_reduction": 0.8848, "context_tokens": 1512, "full_context_tokens": 12490, "reduction": 0.8789,
    "strategy": "selective", "key": "12bac6ef84e523ba768f1f86", "notes": [],
    "unknown": [], "cache": "hit", "version": "20250101T000000-ab12cd",
    "resolved": {"files": ["src/modules/bmm/workflows/workflow-status/paths/method-greenfield.yaml"],
                 "track": "bmad-method", "field_type": "greenfield", "phase": 2, "notes": [],
                 "unknown": []},
}


class SelectionQuery(BaseModel):
    """Query parameters of the selection GET, validated in one pydantic call.

    Why not one FastAPI ``Query`` per parameter: FastAPI validates each separately and that
    costs ~90 us per request, more than the Redis read; this model is parsed directly from
    the query string (about 10 us) and documented in OpenAPI by ``query_parameters``.
    Unknown parameters are rejected (a typo is a 422 naming it, not a silently wider answer).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    track: str | None = Field(None, max_length=100, description="BMad track", examples=["bmad-method"])
    field_type: str | None = Field(None, max_length=100, description="greenfield or brownfield",
                                   examples=["greenfield"])
    phase: Phase = Field(None, examples=[2])
    complexity_level: int | None = Field(None, ge=0, le=4, description="BMad scale level 0-4")
    has_ui: bool | None = Field(None, description="Whether the project has a user interface")
    user_role: str | None = Field(None, max_length=100, description="Role of the person asking")
    workflow_history: list[str] = Field(default_factory=list,
                                        description="Workflows done so far (repeat the parameter)")
    next_workflow: str | None = Field(None, max_length=200, description="Workflow about to run",
                                      examples=["prd"])
    request: str | None = Field(None, description="Free-text request (<= settings.max_request_chars)")
    project_id: str | None = Field(None, pattern=SAFE_ID, max_length=128,
                                   description="Fill missing fields from this project's stored state")
    project_path: str | None = Field(None, min_length=1, max_length=4096,
                                     description="Fill missing fields from this project folder's BMad files "
                                     "(absolute path under AGENTLOAD_PROJECT_ROOTS)", examples=["/home/me/acme-shop"])
    user_id: str | None = Field(None, pattern=SAFE_ID, max_length=128, description="For the usage ledger")
    include: Literal["ref", "full"] = Field("ref", description="`full` embeds each agent's definition text")
    wait_ms: int = Field(0, ge=0, description="On a miss, wait this long for the worker (<= max_wait_ms)")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` (all in the query, all optional) from a model's JSON schema."""
    schema = model.model_json_schema()
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        examples = prop.pop("examples", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop,
                                 "description": description}
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        if examples:
            param["example"] = examples[0]
        params.append(param)
    return params


class TaskAccepted(BaseModel):
    """A task was enqueued (or an identical one is already pending): poll ``poll_url``."""

    task_id: str | None = Field(default=None, examples=["3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11"],
                                description="Absent only for a debounced refresh whose task id expired")
    poll_url: str | None = Field(default=None, examples=["/api/v1/tasks/3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11"])
    status_url: str | None = Field(default=None, description="Repeat this request to get the result")
    debounced: bool = False


class TaskState(BaseModel):
    """Celery's view of a task. Unknown ids are ``PENDING`` too (Celery cannot tell them apart)."""

    task_id: str
    state: str = Field(examples=["SUCCESS"], description="PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE")
    ready: bool
    progress: dict[str, Any] | None = Field(default=None, description="Meta of a PROGRESS state")
    result: Any = None
    error: str | None = None


class PreloadBody(BaseModel):
    """Warm the cache for a context, a project's stored state, or both (context wins)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"context": {"track": "bmad-method", "field_type": "greenfield", "phase": 2},
                      "project_id": "acme-shop", "user_id": "alice"}]})

    context: Context | None = None
    project_id: str | None = ProjectId
    user_id: str | None = Field(default=None, pattern=SAFE_ID, max_length=128)


class WorkflowState(BaseModel):
    """Where a project stands in its BMad path; feeds selection defaults and prediction."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"track": "bmad-method", "field_type": "greenfield", "phase": 2,
                      "complexity_level": 3, "has_ui": True, "workflow_history": ["brainstorm-project",
                      "research", "product-brief"], "next_workflow": "prd"}]})

    track: str | None = Field(default=None, max_length=100)
    field_type: str | None = Field(default=None, max_length=100)
    phase: Phase = None
    complexity_level: int | None = Field(default=None, ge=0, le=4)
    has_ui: bool | None = None
    workflow_history: list[str] = Field(default_factory=list)
    next_workflow: str | None = Field(default=None, max_length=200)


class StrategyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"strategy": "selective"}]})

    strategy: Literal["selective", "full", "cached"]


class StrategyState(BaseModel):
    strategy: str = Field(examples=["selective"])
    source: Literal["redis", "settings"] = Field(description="Runtime flag, or the settings default")


class Detail(BaseModel):
    detail: str


def error(description: str, example: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for an error with an example body."""
    return {"model": Detail, "description": description,
            "content": {"application/json": {"example": {"detail": example}}}}


REDIS_DOWN = error("Redis is unreachable (retry later)", "Redis is unavailable: Error 111 connecting")
VALIDATION = error("A parameter is invalid; `detail` names the field", "query.phase: Input should be "
                   "greater than or equal to 0")
