"""Performance jobs: start a benchmark, load test or optimisation, cancel one, read stored results.

Starting a job validates the body with the job's own parameter model (``agentload.measure.params``)
and the operator's limits, refuses a load target that is neither loopback nor the configured
API (422 with the reason, before anything is enqueued or sent), then enqueues the task *by
name* on the ``long`` queue and answers 202 with a ``poll_url``. The task id doubles as the
job id its cancel flag is keyed on. Reads of stored runs go to SQL in a worker thread under a
deadline; nothing here writes to the database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query

from agentload import keys
from agentload.api import history
from agentload.api.answers import CancelRequested, TaskAccepted
from agentload.api.auth import require_token
from agentload.api.errors import validation_response
from agentload.api.failures import AUTH, BODY, DB_DOWN, NO_ROUTE, REDIS_DOWN, VALIDATION, Responses
from agentload.api.figures import BenchmarkRuns, ScalabilityRuns
from agentload.api.problems import database_failure
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime, task_links
from agentload.api.runtime import Runtime
from agentload.measure.loadgen.spec import LoadLimits, TargetRefused, check_target
from agentload.measure.params import (
    BenchmarkParams,
    FieldError,
    LoadTestParams,
    OptimizeParams,
    as_params,
    benchmark_limit_errors,
    load_limit_errors,
)
from agentload.tasknames import TaskName

log = logging.getLogger("agentload.api")
router = APIRouter(tags=["performance"])
LOAD_KINDS = ("load_test", "stress", "scalability")
Kind = Literal["benchmark", "load_test", "stress", "scalability", "optimize"]
JOB_RESPONSES: Responses = {202: {"description": "Enqueued on the `long` queue: poll `poll_url`"},
                             **AUTH, **BODY, 422: VALIDATION, 503: REDIS_DOWN}


def _refused(errors: list[FieldError], base_url: str | None, rt: Runtime) -> ORJSONResponse | None:
    """422 for limit errors or a refused target (each naming its field), else None."""
    items = [{"loc": ("body", field), "msg": msg, "type": "limit"} for field, msg in errors]
    try:
        check_target((base_url or rt.settings.api_base_url).rstrip("/"), rt.settings.api_base_url)
    except TargetRefused as exc:
        items.append({"loc": ("body", "base_url"), "msg": str(exc), "type": "target_refused"})
    return validation_response(items) if items else None


async def _enqueue(rt: Runtime, name: TaskName, params: dict[str, Any]) -> ORJSONResponse:
    task_id = str(uuid.uuid4())
    await rt.enqueuer.send(name, {"params": {**params, "job_id": task_id}}, task_id=task_id)
    return ORJSONResponse(task_links(task_id), status_code=202)


@router.post("/api/v1/performance/load-test", status_code=202, response_model=TaskAccepted,
             summary="Start a load test, step test or stress ramp against this API (loopback or configured URL)",
             description="Bounded by `AGENTLOAD_LOADTEST_MAX_*` (422 names the field and the limit). The result "
             "is stored in `performance_benchmarks` (kind `load_test`, `scalability` or `stress`) with resource "
             "samples and degradation analysis; cancel with `POST /api/v1/performance/jobs/{task_id}/cancel`.",
             dependencies=[Depends(require_token)], responses=JOB_RESPONSES)
async def load_test(body: LoadTestParams, rt: Runtime = Depends(runtime)) -> Any:
    bad = _refused(load_limit_errors(body, LoadLimits.from_settings(rt.settings), rt.settings), body.base_url, rt)
    return bad or await _enqueue(rt, TaskName.LOAD_TEST, as_params(body))


@router.post("/api/v1/performance/benchmark", status_code=202, response_model=TaskAccepted,
             summary="Start the before/after benchmark: tokens, latency, CPU and bytes per strategy",
             description="Runs the same workload under `full`, `selective` and `cached`, switching the global "
             "strategy flag between runs (restored afterwards): run it on a quiet system.",
             dependencies=[Depends(require_token)], responses=JOB_RESPONSES)
async def benchmark(body: BenchmarkParams, rt: Runtime = Depends(runtime)) -> Any:
    bad = _refused(benchmark_limit_errors(body, LoadLimits.from_settings(rt.settings), rt.settings),
                   body.base_url, rt)
    return bad or await _enqueue(rt, TaskName.BENCHMARK, as_params(body))


@router.post("/api/v1/performance/optimize", status_code=202, response_model=TaskAccepted,
             summary="Warm in-use contexts and tune the free-text rule on labelled cases",
             description="`scenarios` are `{context, required_agents}` cases; the grid keeps recall >= "
             "`recall_target`. With `apply`, the values are stored with a new `optimization_version` and "
             "the catalog is republished with them.",
             dependencies=[Depends(require_token)], responses=JOB_RESPONSES)
async def optimize(body: OptimizeParams, rt: Runtime = Depends(runtime)) -> Any:
    return await _enqueue(rt, TaskName.OPTIMIZE, as_params(body))


@router.post("/api/v1/performance/jobs/{task_id}/cancel", status_code=202, response_model=CancelRequested,
             summary="Ask a running performance job to stop (it stores what it measured as `incomplete`)",
             description="Sets the job's cancel flag, which the job checks about every half second, and "
             "revokes the task so a job that has not started yet never starts.",
             dependencies=[Depends(require_token)],
             responses={202: {"content": {"application/json": {"example": {
                 "task_id": "3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11", "cancel_requested": True,
                 "poll_url": "/api/v1/tasks/3f0a6c1e-5d0e-4f7c-9a51-0f2b1c9d7e11"}}}},
                 **AUTH, 404: NO_ROUTE, 422: VALIDATION, 503: REDIS_DOWN})
async def cancel(task_id: str = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
                 rt: Runtime = Depends(runtime)) -> Any:
    await rt.redis.set(keys.job_cancel_key(task_id), b"1", ex=keys.JOB_CANCEL_TTL_S)
    await anyio.to_thread.run_sync(partial(rt.enqueuer.app.control.revoke, task_id))
    return ORJSONResponse({**task_links(task_id), "cancel_requested": True}, status_code=202)


def _slim(run: dict[str, Any], full: bool) -> dict[str, Any]:
    """A run without the bulky parts (per-request histograms, resource time series) unless asked."""
    if full:
        return run
    results = dict(run.get("results") or {})
    if isinstance(results.get("steps"), list):
        results["steps"] = [{**{k: v for k, v in s.items() if k != "result"},
                             "complete": (s.get("result") or {}).get("complete")} for s in results["steps"]]
    if isinstance(results.get("tokens"), dict):
        results["tokens"] = {k: v for k, v in results["tokens"].items() if k != "reductions"}
    res = run.get("resource_utilization") or {}
    slim_res = {k: v for k, v in res.items() if k != "samples"}
    for key, value in list(slim_res.items()):  # a benchmark stores one report per strategy
        if isinstance(value, dict) and "samples" in value:
            slim_res[key] = {k: v for k, v in value.items() if k != "samples"}
    return {**run, "results": results, "resource_utilization": slim_res}


async def _read(fn: Callable[[], Any]) -> Any:
    try:
        return await history.run_db(fn)
    except Exception as exc:
        log.warning("database unavailable: %s", exc)
        raise HTTPException(503, f"database unavailable: {database_failure(exc)}") from exc


@router.get("/api/v1/performance/scalability", response_model=ScalabilityRuns,
            summary="Stored load, step and stress results with their degradation analysis, newest first",
            responses={200: {"content": {"application/json": {"example": {"runs": [{
                "id": "0b8c6d2e-1f5a-4c3b-9d7e-2a1b3c4d5e6f", "name": "step test", "kind": "scalability",
                "status": "complete", "started_at": "2025-01-01T00:00:00+00:00",
                "finished_at": "2025-01-01T00:01:02+00:00", "duration_s": 62.1, "scenario": "selection_reads",
                "mode": "steps", "steps": [{"users": 10, "rate": 100.0, "throughput_rps": 99.8, "p50_ms": 1.2,
                                            "p90_ms": 2.3, "p99_ms": 4.1, "error_rate": 0.0}],
                "degradation": {"knee_users": 50, "saturation_throughput_rps": 1450.0},
                "resources": {"cpu_percent_mean": 38.5}}]}}}},
                422: VALIDATION, 503: DB_DOWN})
async def scalability(limit: int = Query(20, ge=1, le=200), rt: Runtime = Depends(runtime)) -> Any:
    db = rt.settings.database_url

    def read() -> list[dict[str, Any]]:
        runs = [run for kind in LOAD_KINDS for run in history.list_benchmarks(db, kind=kind, limit=limit)]
        return sorted(runs, key=lambda run: run["started_at"], reverse=True)[:limit]

    runs = await _read(read)
    out = []
    for run in runs:
        results = run.get("results") or {}
        steps = [{k: s.get(k) for k in ("users", "rate", "throughput_rps", "p50_ms", "p90_ms", "p99_ms",
                                         "error_rate", "breach")} for s in results.get("steps", [])]
        resources = (run.get("resource_utilization") or {}).get("summary")
        out.append({k: run.get(k) for k in ("id", "name", "kind", "status", "started_at", "finished_at",
                                             "duration_s", "error")}
                   | {"scenario": results.get("scenario"), "mode": results.get("mode"), "steps": steps,
                      "degradation": results.get("degradation"), "resources": resources})
    return ORJSONResponse({"runs": out})


@router.get("/api/v1/performance/benchmarks", summary="Stored performance runs (any kind), newest first",
            response_model=BenchmarkRuns,
            description="Bulky parts (latency histograms, resource time series, per-context reductions) are "
            "left out unless `full=true`.", responses={422: VALIDATION, 503: DB_DOWN})
async def benchmarks(kind: Kind | None = Query(None), limit: int = Query(20, ge=1, le=200),
                     full: bool = Query(False), rt: Runtime = Depends(runtime)) -> Any:
    runs = await _read(partial(history.list_benchmarks, rt.settings.database_url, kind=kind, limit=limit))
    return ORJSONResponse({"runs": [_slim(run, full) for run in runs]})
