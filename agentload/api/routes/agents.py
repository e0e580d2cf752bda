"""Agent definitions, the paged manifest, and preloading a context ahead of need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import ValidationError

from agentload.api.answers import AgentDocument, FileDocument, ManifestPage, TaskAccepted, WorkItemDocument
from agentload.api.auth import require_token
from agentload.api.errors import validation_response
from agentload.api.failures import AUTH, BODY, REDIS_DOWN, VALIDATION, problem
from agentload.api.problems import NotReady, shown
from agentload.api.redact import task_kwargs
from agentload.api.responses import DeliveredResponse, ORJSONResponse
from agentload.api.routes.deps import runtime, task_links
from agentload.api.runtime import Runtime
from agentload.api.schemas import PreloadBody
from agentload.api.service import NO_CATALOG, manifest_page
from agentload.context import Context
from agentload.tasknames import TaskName

router = APIRouter(tags=["agents"])
CONTEXT_KEYS = set(Context.model_fields)

AGENT_EXAMPLE = {"id": "pm", "title": "Product Manager", "name": "John", "icon": "📋", "module": "bmm",
                 "path": "src/modules/bmm/agents/pm.agent.yaml", "tokens": 1174, "text": "<agent ...>",
                 "menu": [{"trigger": "prd", "description": "Create a PRD"}], "persona": {"role": "..."},
                 "version": "20250101T000000-ab12cd"}
MANIFEST_EXAMPLE = {"version": "20250101T000000-ab12cd", "total": 10, "limit": 100, "offset": 0,
                    "manifest_tokens": 212,
                    "agents": [{"id": "analyst", "line": "- analyst: Business Analyst | brainstorm-project, research"}]}


@router.get("/api/v1/agents", summary="The agent manifest (paged)", response_model=ManifestPage,
            responses={200: {"content": {"application/json": {"example": MANIFEST_EXAMPLE}}},
                       422: VALIDATION, 503: REDIS_DOWN})
async def list_agents(
    limit: int = Query(100, ge=1, description="Page size (<= settings.max_page_size)"),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    rt: Runtime = Depends(runtime),
) -> Any:
    if limit > rt.settings.max_page_size:
        return validation_response([{"loc": ("query", "limit"), "type": "less_than_equal",
                                     "msg": f"at most {rt.settings.max_page_size}"}])
    version = await rt.store.current_version()
    manifest = await rt.store.get_manifest(version) if version else None
    if version is None or manifest is None:
        raise NotReady(NO_CATALOG)
    return DeliveredResponse(manifest_page(version, manifest, limit, offset))


@router.get("/api/v1/agents/{agent_id}", summary="One agent's full definition", response_model=AgentDocument,
            responses={200: {"content": {"application/json": {"example": AGENT_EXAMPLE}}},
                       404: problem("No such agent in the current catalog version", "unknown agent 'nobody'"),
                       422: VALIDATION, 503: REDIS_DOWN})
async def get_agent(agent_id: str = Path(max_length=200), rt: Runtime = Depends(runtime)) -> Any:
    version = await rt.store.current_version()
    if version is None:
        raise NotReady(NO_CATALOG)
    agent = await rt.store.get_agent(agent_id, version)
    if agent is None:
        raise HTTPException(404, f"unknown agent {shown(agent_id)}")
    return DeliveredResponse({**agent, "version": version})


WORK_ITEM_EXAMPLE = {"id": "bmad-prd", "kind": "skill", "name": "bmad-prd", "description": "Create, update, or "
                     "validate a PRD", "module": "bmm", "phase": "2-planning", "required": True,
                     "owners": ["bmad-agent-pm"], "entry_file": ".claude/skills/bmad-prd/SKILL.md",
                     "files": [{"path": ".claude/skills/bmad-prd/references/validate.md", "tokens": 812}],
                     "tokens": 2113, "text": "---\nname: bmad-prd ...", "version": "20250101T000000-ab12cd"}


@router.get("/api/v1/work-items/{work_item_id}", tags=["work items"], response_model=WorkItemDocument,
            summary="One workflow, skill or task: its entry file's text and the files it references",
            description="The second level of progressive disclosure: after a selection names a work item (the "
            "`skills` of a skills-layout selection, or a menu item's `work_item`), its entry file (`SKILL.md`, "
            "`workflow.md`...) in full; `files` lists what it references, to read when a step needs them.",
            responses={200: {"content": {"application/json": {"example": WORK_ITEM_EXAMPLE}}},
                       404: problem("No such work item in the current catalog version", "unknown work item 'x'"),
                       422: VALIDATION, 503: REDIS_DOWN})
async def get_work_item(work_item_id: str = Path(max_length=200), rt: Runtime = Depends(runtime)) -> Any:
    return await _versioned(rt, rt.store.get_work_item, work_item_id, f"unknown work item {shown(work_item_id)}")


async def _versioned(rt: Runtime, read: Callable[[str, str], Awaitable[dict[str, Any] | None]], key: str,
                     missing: str) -> DeliveredResponse:
    """One published item of the live version (work item, file) with the version, else 404."""
    version = await rt.store.current_version()
    if version is None:
        raise NotReady(NO_CATALOG)
    found = await read(key, version)
    if found is None:
        raise HTTPException(404, missing)
    return DeliveredResponse({**found, "version": version})


FILE_EXAMPLE = {"path": ".claude/skills/bmad-prd/references/validate.md", "tokens": 812, "text": "# Validate ...",
                "version": "20250101T000000-ab12cd"}


@router.get("/api/v1/files/{file_path:path}", tags=["work items"], response_model=FileDocument,
            summary="One file a work item references (instructions, template, checklist, step file)",
            description="The third level of progressive disclosure: a path from a work item's `files`, read when "
            "a step needs it. Only files the catalog's work items reference are served; anything else "
            "(another path, `..`, a symlink leaving the catalog) is 404.",
            responses={200: {"content": {"application/json": {"example": FILE_EXAMPLE}}},
                       404: problem("Not a file of this catalog's work items",
                                    "'x' is not a file of this catalog's work items"),
                       422: VALIDATION, 503: REDIS_DOWN})
async def get_file(file_path: str = Path(max_length=1000), rt: Runtime = Depends(runtime)) -> Any:
    missing = f"{shown(file_path)} is not a file of this catalog's work items"
    return await _versioned(rt, rt.store.get_file, file_path, missing)


@router.post("/api/v1/agents/preload", status_code=202, response_model=TaskAccepted,
             summary="Precompute the selection for a context (and its likely next steps)",
             dependencies=[Depends(require_token)],
             responses={**AUTH, **BODY, 422: VALIDATION, 503: REDIS_DOWN,
                        404: problem("Unknown project", "unknown project 'acme': PUT its workflow state first")})
async def preload(body: PreloadBody, rt: Runtime = Depends(runtime)) -> Any:
    if body.context is None and body.project_id is None:
        return validation_response([{"loc": ("body", "context"), "type": "missing",
                                     "msg": "give a context, a project_id, or both"}])
    context = body.context.model_dump(mode="json", exclude_defaults=True) if body.context else {}
    if body.project_id is not None:
        state = await rt.store.get_workflow_state(body.project_id)
        if state is None and body.context is None:
            raise HTTPException(404, f"unknown project {body.project_id!r}: PUT its workflow state first")
        stored = {k: v for k, v in (state or {}).items() if k in CONTEXT_KEYS and v not in (None, [])}
        context = {**stored, **context}
    try:
        Context(**context)
    except ValidationError as exc:
        return validation_response(exc.errors())
    sent = await task_kwargs(rt.redis, rt.settings, context, project_id=body.project_id, user_id=body.user_id)
    task_id = await rt.enqueuer.send(TaskName.PRELOAD_CONTEXT, sent)
    return ORJSONResponse(task_links(task_id), status_code=202)
