"""What the selection, catalog, task, project and flag routes answer: one model per body shape.

Routes return an ``ORJSONResponse``/``DeliveredResponse`` built from dicts (the hot path must
not pay for a pydantic round trip), so FastAPI never validates these: they are the contract
the OpenAPI spec publishes, and ``tests/integration/test_openapi_client.py`` (a client
generated from the spec, against the real API) plus the schemathesis conformance checks keep
the two equal. Where the body *is* a domain model's dump (a stored agent, a selection) the
answer derives from that model, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from agentload.api.schemas import WorkflowState
from agentload.catalog.models import Agent, CatalogError
from agentload.context import Resolved
from agentload.selection.models import SelectedAgent, Selection

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
VERSION = Field(description="The catalog version this was read from", examples=["20250101T000000-ab12cd"])


class TaskAccepted(BaseModel):
    """A task was enqueued (or an identical one is already pending): poll ``poll_url``."""

    task_id: str | None = Field(default=None, examples=["3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11"],
                                description="Absent only for a debounced refresh whose task id expired")
    poll_url: str | None = Field(default=None, examples=["/api/v1/tasks/3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11"])
    status_url: str | None = Field(default=None, description="Repeat this request to get the result")
    debounced: bool = False


class CancelRequested(BaseModel):
    """A performance job was asked to stop: its cancel flag is set and the task revoked."""

    task_id: str
    poll_url: str
    cancel_requested: bool


class TaskState(BaseModel):
    """Celery's view of a task. Unknown ids are ``PENDING`` too (Celery cannot tell them apart)."""

    task_id: str
    state: str = Field(examples=["SUCCESS"], description="PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE")
    ready: bool
    progress: dict[str, Any] | None = Field(default=None, description="Meta of a PROGRESS state")
    result: Any = Field(default=None, description="The task's JSON result once `SUCCESS`")
    error: str | None = None


class StrategyState(BaseModel):
    strategy: str = Field(examples=["selective"])
    source: Literal["redis", "settings"] = Field(description="Runtime flag, or the settings default")


class ServedAgent(SelectedAgent):
    text: str | None = Field(default=None, description="`include=full` only: the definition as shipped")


class ServedContext(Resolved):
    """The context as resolved (inferred fields filled in); the request text is not echoed."""

    request: SkipJsonSchema[str | None] = Field(default=None, exclude=True)


class ProjectReport(BaseModel):
    """What the project's own BMad files contributed to the context (``agentload.project``)."""

    from_: dict[str, list[str]] | SkipJsonSchema[None] = Field(
        default=None, alias="from", description="project-relative file -> the `field:value` items it gave")
    notes: list[str] | SkipJsonSchema[None] = Field(default=None, description="what was read, skipped or overridden")


class SelectionAnswer(Selection):
    """A served selection: the stored ``Selection`` plus where it came from."""

    agents: list[ServedAgent]  # type: ignore[assignment]  # a pydantic field override: served agents add `text`
    cache: Literal["hit", "miss"] = Field(description="`miss`: computed by a worker within `wait_ms`")
    version: str = VERSION
    resolved: ServedContext
    project: ProjectReport | SkipJsonSchema[None] = Field(
        default=None, description="With `project_path` or a default project: which file gave what (absent otherwise)")


class LoaderStatus(BaseModel):
    """The selection GET without a context: what the loader serves (``empty`` before a catalog)."""

    status: Literal["ready", "empty"]
    strategy: str
    version: str | None = VERSION
    published_at: float | SkipJsonSchema[None] = Field(default=None, description="Unix time (absent when empty)")
    selections: int
    agents: int
    baseline_tokens: int | None = Field(default=None, description="Tokens of loading everything (absent when empty)")
    errors: list[CatalogError] = Field(description="Catalog files that could not be used")
    error_count: int


class ManifestLine(BaseModel):
    id: str
    line: str = Field(examples=["- analyst: Business Analyst | brainstorm-project, research"])


class ManifestPage(BaseModel):
    """One page of the agent manifest, in agent-id order."""

    version: str = VERSION
    total: int
    limit: int
    offset: int
    manifest_tokens: int | None = Field(description="Tokens of the whole manifest text")
    agents: list[ManifestLine]


class SearchResults(BaseModel):
    """Agents and skills of the live version whose manifest lines match a query, best first."""

    version: str = VERSION
    query: str
    searched: int = Field(description="Manifest lines searched (every agent and skill of the version)")
    results: list[ManifestLine]


class AgentDocument(Agent):
    """One agent's definition as published (``text``: the file as shipped)."""

    version: str = VERSION


class FileRef(BaseModel):
    path: str = Field(description="Catalog-relative path")
    tokens: int


class FileDocument(FileRef):
    """A file a work item references, with its text."""

    text: str
    next_step: str | None = Field(default=None, description="Step files only: the step after this one "
                                  "(null for the last); absent for other files")
    version: str = VERSION


class WorkItemDocument(BaseModel):
    """A workflow, skill or task: its entry file's text and the published files it references."""

    id: str
    kind: str = Field(examples=["skill"], description="workflow | skill | task")
    name: str
    description: str
    module: str
    phase: str | None = Field(description="The catalog's own phase label")
    required: bool
    owners: list[str] = Field(description="Agents whose menus run it")
    entry_file: str
    files: list[FileRef]
    tokens: int
    text: str
    first_step: str | SkipJsonSchema[None] = Field(default=None, description="Step-file workflows only")
    version: str = VERSION


class ProjectState(BaseModel):
    project_id: str
    state: WorkflowState


class ProjectStateStored(ProjectState):
    transitions_counted: int = Field(description="Workflow transitions this change added to the prediction model")
