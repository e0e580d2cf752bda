"""``GET /api/v1/agents/optimized-loading``: the hot path.

One context in, the precomputed selection out, from Redis only: resolve the context's key
with the published resolver data (in-process per version), read the selection and count it
in one Redis round trip (the store's script), queue the selection event in memory for the
telemetry flush. A miss never computes here; it enqueues ``agentload.select_text`` by name
and answers 202 (or waits up to ``wait_ms``).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import QueryParams

from agentload import keys
from agentload.api.answers import SELECTION_EXAMPLE, LoaderStatus, SelectionAnswer, TaskAccepted
from agentload.api.auth import has_token
from agentload.api.errors import validation_response
from agentload.api.failures import REDIS_DOWN, VALIDATION, problem
from agentload.api.lookup import definitions, look_up, record
from agentload.api.project_context import ProjectRefused
from agentload.api.responses import DeliveredResponse, ORJSONResponse
from agentload.api.routes.deps import task_links
from agentload.api.runtime import Runtime
from agentload.api.schemas import SelectionQuery, query_parameters
from agentload.api.service import NotPrecomputed, UnknownContext
from agentload.context import CONTEXT_FIELDS

router = APIRouter(tags=["selection"])
STATUS_EXAMPLE = {"status": "ready", "strategy": "selective", "version": "20250101T000000-ab12cd",
                  "published_at": 1735689600.0, "selections": 182, "agents": 10,
                  "baseline_tokens": 5504, "errors": [], "error_count": 0}


@router.get(
    "/api/v1/agents/optimized-loading",
    summary="The agents to load for a project context (precomputed), or the loader status",
    description="Without any context parameter: the loader status. With context parameters: the "
    "precomputed selection (`cache: hit`). On a miss the selection is computed by a worker: the "
    "answer is 202 with a `poll_url`, or, with `wait_ms>0`, the selection once ready (`cache: miss`). "
    "`project_id` fills parameters you leave out from the project's stored workflow state, "
    "`project_path` from the project's own BMad files (status files, finished work; folders under "
    "`AGENTLOAD_PROJECT_ROOTS` only; the default project when none is named): your parameters win, "
    "then the stored state, then the files; `project` in the answer says which file gave what.",
    openapi_extra={"parameters": query_parameters(SelectionQuery)},
    response_model=SelectionAnswer | LoaderStatus,
    responses={
        200: {"description": "Selection (or loader status without context)", "content": {
            "application/json": {"examples": {"selection": {"value": SELECTION_EXAMPLE},
                                              "status": {"value": STATUS_EXAMPLE}}}}},
        202: {"model": TaskAccepted, "description": "Miss: a worker is computing the selection"},
        403: problem("`project_path` outside the folders this server may read",
                     "project_path '/etc' is outside the folders this server may read (AGENTLOAD_PROJECT_ROOTS)"),
        404: problem("Unknown workflow/phase, project, project folder, or not precomputed under strategy `cached`",
                     "unknown to this catalog: workflow 'not-a-workflow'"),
        422: VALIDATION,
        429: problem("Too many uncached requests from this client this minute (see `Retry-After`)",
                     "more than 120 uncached requests a minute from this client; repeat ones are served from the "
                     "cache"),
        503: REDIS_DOWN,
    },
)
async def optimized_loading(request: Request) -> Any:
    rt: Runtime = request.app.state.runtime
    parsed = read_query(rt, request.query_params)
    if isinstance(parsed, ORJSONResponse):
        return parsed
    q, given = parsed
    if not given and q.project_id is None and q.project_path is None:
        return ORJSONResponse(await loader_status(rt))
    try:
        # the per-client budget on uncached requests is for anonymous callers; services that
        # send the API token (load tests, the demo, backends) are trusted
        client = None if has_token(request) else (request.client.host if request.client else "anonymous")
        looked = await look_up(rt, given, project_id=q.project_id, project_path=q.project_path,
                               wait_ms=q.wait_ms, client=client)
    except ProjectRefused as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except ValidationError as exc:
        return validation_response(exc.errors())
    except (UnknownContext, NotPrecomputed) as exc:
        raise HTTPException(404, str(exc)) from exc
    if looked.pending:
        assert looked.outcome.task_id is not None
        status_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return ORJSONResponse({**task_links(looked.outcome.task_id), "status_url": status_url, "debounced": False},
                              status_code=202)
    body = looked.body()
    if q.include == "full":
        texts = await definitions(rt, looked)
        body["agents"] = [{**a, "text": texts.get(a["id"])} for a in body["agents"]]
    record(rt, looked, source="api", project=q.project_id, user=q.user_id,
           started=getattr(request.state, "started", None) or time.perf_counter())
    return DeliveredResponse(body)


def read_query(rt: Runtime, qp: QueryParams) -> tuple[SelectionQuery, dict[str, Any]] | ORJSONResponse:
    """The validated query and the context fields it gives, or the 422 to answer."""
    raw: dict[str, Any] = {k: v for k, v in qp.items() if k != "workflow_history"}
    if "workflow_history" in qp:
        raw["workflow_history"] = qp.getlist("workflow_history")
    try:
        q = SelectionQuery.model_validate(raw)
    except ValidationError as exc:
        return validation_response([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()])
    given = {k: v for k in CONTEXT_FIELDS if (v := getattr(q, k)) not in (None, [])}
    bad = _limits(rt, given, q.wait_ms)
    return bad if bad is not None else (q, given)


def _limits(rt: Runtime, given: dict[str, Any], wait_ms: int) -> ORJSONResponse | None:
    """Limits that come from settings (so cannot be static constraints of the model)."""
    s = rt.settings
    errors = []
    if len(given.get("request") or "") > s.max_request_chars:
        errors.append({"loc": ("query", "request"), "msg": f"at most {s.max_request_chars} characters",
                       "type": "too_long"})
    if len(given.get("workflow_history", [])) > s.max_history_len:
        errors.append({"loc": ("query", "workflow_history"), "msg": f"at most {s.max_history_len} items",
                       "type": "too_long"})
    if wait_ms > s.max_wait_ms:
        errors.append({"loc": ("query", "wait_ms"), "msg": f"at most {s.max_wait_ms}", "type": "less_than_equal"})
    return validation_response(errors) if errors else None


async def loader_status(rt: Runtime) -> dict[str, Any]:
    """Strategy, current version and what it holds (counts and build errors)."""
    version = await rt.store.current_version()
    strategy = await rt.store.get_strategy()
    if version is None:
        return {"status": "empty", "strategy": strategy, "version": None, "selections": 0, "agents": 0,
                "errors": [], "error_count": 0}
    raw = await rt.redis.get(keys.meta_key(version))
    meta: dict[str, Any] = orjson.loads(raw) if raw else {}
    errors = meta.get("errors", [])
    return {"status": "ready", "strategy": strategy, "version": version,
            "published_at": meta.get("published_at"), "selections": meta.get("selections", 0),
            "agents": meta.get("agents", 0), "baseline_tokens": meta.get("baseline_tokens"),
            "errors": errors, "error_count": len(errors)}
