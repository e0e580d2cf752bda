"""Request bodies and query parameters of the HTTP API (answers: ``answers``, ``figures``, ``failures``).

Bodies forbid unknown fields: a typo'd field name is a 422 naming it rather than a silently
ignored hint. Identifiers that end up inside Redis keys are restricted to a safe alphabet.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentload.context import Context, ProjectState

SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
ProjectId = Field(default=None, pattern=SAFE_ID, max_length=128,
                  description="Project id (letters, digits, ._:@-)", examples=["acme-shop"])


class SelectionQuery(Context):
    """Query parameters of the selection GET: the context (``agentload.context``) and how to
    answer, validated in one pydantic call.

    Why not one FastAPI ``Query`` per parameter: FastAPI validates each separately and that
    costs ~90 us per request, more than the Redis read; this model is parsed directly from
    the query string (about 10 us) and documented in OpenAPI by ``query_parameters``.
    Unknown parameters are rejected (a typo is a 422 naming it, not a silently wider answer).
    """

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


class PreloadBody(BaseModel):
    """Warm the cache for a context, a project's stored state, or both (context wins)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"context": {"track": "bmad-method", "field_type": "greenfield", "phase": 2},
                      "project_id": "acme-shop", "user_id": "alice"}]})

    context: Context | None = None
    project_id: str | None = ProjectId
    user_id: str | None = Field(default=None, pattern=SAFE_ID, max_length=128)


class WorkflowState(ProjectState):
    """Where a project stands in its BMad path (``agentload.context.ProjectState``); feeds
    selection defaults and prediction."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"track": "bmad-method", "field_type": "greenfield", "phase": 2,
                      "complexity_level": 3, "has_ui": True, "workflow_history": ["brainstorm-project",
                      "research", "product-brief"], "next_workflow": "prd"}]})


class StrategyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"strategy": "selective"}]})

    strategy: Literal["selective", "full", "cached"]

