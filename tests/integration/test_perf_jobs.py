"""Performance jobs end to end: real API (uvicorn in a thread), real worker, real Redis, SQLite.

The API is started on a free loopback port with the performance router; the session's
prefork worker runs the jobs and writes to its own SQLite file (``AGENTLOAD_DATABASE_URL`` of
the ``celery_worker`` fixture), which is migrated here. Load goes from the worker to the API
over loopback, exactly as in production, only short (1-2 s windows).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
import typer
import uvicorn
from celery import Celery
from celery.result import AsyncResult
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from agentload import jobs, keys
from agentload.api.app import create_app
from agentload.api.routes import perf_jobs
from agentload.measure.cli import register
from agentload.measure.report.collect import write_report
from agentload.measure.report.data import PLOT_IDS
from agentload.settings import DEFAULT_API_TOKEN, Settings, get_settings
from models import migrate, repository
from tests.harness import free_port, publish_real_catalog

AUTH = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}  # the worker's settings use the default token too
SEL = "/api/v1/agents/optimized-loading"
RESULT_TIMEOUT_S = 60
_REPO = Path(__file__).resolve().parents[2]
SUITE = next((p for p in (_REPO.parent / "shared" / "scenarios" / "bmm-requests.jsonl",
                          _REPO / "data" / "scenarios" / "bmm-requests.jsonl") if p.is_file()),
             _REPO / "data" / "scenarios" / "bmm-requests.jsonl")


@pytest.fixture(scope="module")
def worker_db(celery_worker: Any) -> str:
    """The worker's database (see ``process_env``), migrated."""
    url = f"sqlite:///{celery_worker.process.log_path.parent / 'agentload.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def api(redis_url: str, worker_db: str) -> Iterator[str]:
    """Base URL of a real uvicorn server (thread of this process) serving the API + perf router."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(env="test", redis_url=redis_url, database_url=worker_db, api_base_url=base)
    app = create_app(settings)
    if not any(getattr(r, "path", "") == "/api/v1/performance/load-test" for r in app.routes):
        app.include_router(perf_jobs.router)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def published(redis_url: str) -> redis.Redis:
    """A Redis client with the bundled catalog published (other tests may have cleared it)."""
    client = redis.Redis.from_url(redis_url)
    if client.get(keys.CURRENT_VERSION) is None:
        publish_real_catalog(redis_url)
    return client


def start(api: str, path: str, body: dict[str, Any]) -> str:
    resp = httpx.post(f"{api}{path}", json=body, headers=AUTH, timeout=10)
    assert resp.status_code == 202, resp.text
    assert resp.json()["poll_url"] == f"/api/v1/tasks/{resp.json()['task_id']}"
    return str(resp.json()["task_id"])


def wait_progress(api: str, task_id: str, until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        state = httpx.get(f"{api}/api/v1/tasks/{task_id}", timeout=5).json()
        assert not state["ready"], f"task finished before the condition: {state}"
        if state["state"] == "PROGRESS" and until(state["progress"]):
            return dict(state["progress"])
        time.sleep(0.05)
    raise AssertionError("no matching progress in time")


@pytest.fixture(scope="module")
def step_run(api: str, worker_db: str, celery_app: Celery, redis_url: str) -> dict[str, Any]:
    """One short step test (2 steps x 1 s) through the endpoint, finished and stored."""
    if redis.Redis.from_url(redis_url).get(keys.CURRENT_VERSION) is None:
        publish_real_catalog(redis_url)
    body = {"mode": "steps", "steps": [1, 3], "rate": 20, "step_duration_s": 1, "pids": {"api": os.getpid()},
            "base_url": api}
    task_id = start(api, "/api/v1/performance/load-test", body)
    result: dict[str, Any] = AsyncResult(task_id, app=celery_app).get(timeout=RESULT_TIMEOUT_S)
    run = repository.get_benchmark(worker_db, result["benchmark_id"])
    assert run is not None
    return {"result": result, "run": run, "task_id": task_id}


def test_given_api_and_worker_when_a_short_step_test_is_posted_then_a_complete_run_with_resources_is_stored(
    step_run: dict[str, Any], worker_db: str, api: str,
) -> None:
    run = step_run["run"]
    assert run["status"] == "complete" and run["kind"] == "scalability"
    steps = run["results"]["steps"]
    assert [s["users"] for s in steps] == [1, 3]
    assert all(s["result"]["complete"] and s["result"]["completed"] > 0 and s["error_rate"] == 0 for s in steps)
    assert run["results"]["degradation"]["steps"] == 2
    resources = run["resource_utilization"]
    assert len(resources["samples"]) >= 6  # 250 ms sampling over ~2 s
    assert {"api", "loadgen"} <= set(resources["summary"]) and resources["redis"]["commands"] > 0
    assert resources["summary"]["api"]["cpu_seconds"] > 0
    rows = [m for m in repository.recent_performance_metrics(worker_db, category="benchmark", limit=500)
            if m["benchmark_id"] == run["id"]]
    assert {m["metric_name"] for m in rows} >= {"p50_ms", "p99_ms", "throughput_rps", "error_rate"}
    listed = httpx.get(f"{api}/api/v1/performance/scalability", timeout=10).json()["runs"]
    mine = next(r for r in listed if r["id"] == run["id"])
    assert mine["degradation"]["steps"] == 2 and [s["users"] for s in mine["steps"]] == [1, 3]


@pytest.mark.parametrize("target", ["http://10.1.2.3:80", "http://example.com", "ftp://127.0.0.1/"])
def test_given_a_target_outside_loopback_when_posted_then_422_and_nothing_is_enqueued(
    api: str, worker_db: str, redis_url: str, target: str,
) -> None:
    before = len(repository.list_benchmarks(worker_db, limit=1000))
    queued = redis.Redis.from_url(redis_url).llen("long")
    resp = httpx.post(f"{api}/api/v1/performance/load-test", json={"base_url": target, "duration_s": 1},
                      headers=AUTH, timeout=10)
    assert resp.status_code == 422, resp.text
    assert "base_url" in resp.json()["detail"] and "refusing load target" in resp.json()["detail"]
    assert "task_id" not in resp.json()
    time.sleep(0.3)
    assert redis.Redis.from_url(redis_url).llen("long") == queued
    assert len(repository.list_benchmarks(worker_db, limit=1000)) == before


def test_given_limits_when_a_body_exceeds_them_then_422_names_the_field(api: str) -> None:
    too_many = httpx.post(f"{api}/api/v1/performance/load-test", json={"users": 100_000}, headers=AUTH, timeout=10)
    assert too_many.status_code == 422 and too_many.json()["detail"].startswith("users: ")
    assert "loadtest_max_users" in too_many.json()["detail"]
    typo = httpx.post(f"{api}/api/v1/performance/load-test", json={"userz": 1}, headers=AUTH, timeout=10)
    assert typo.status_code == 422 and "userz" in typo.json()["detail"]
    anonymous = httpx.post(f"{api}/api/v1/performance/load-test", json={}, timeout=10)
    assert anonymous.status_code == 401


def test_given_a_running_step_test_when_cancelled_then_the_row_is_incomplete_with_partial_results(
    api: str, worker_db: str, celery_app: Celery, published: redis.Redis,
) -> None:
    body = {"mode": "steps", "steps": [1, 2, 3, 4, 5], "rate": 10, "step_duration_s": 2, "base_url": api}
    task_id = start(api, "/api/v1/performance/load-test", body)
    wait_progress(api, task_id, lambda p: p.get("done", 0) >= 1)  # one step finished, the second running
    resp = httpx.post(f"{api}/api/v1/performance/jobs/{task_id}/cancel", headers=AUTH, timeout=10)
    assert resp.status_code == 202 and resp.json()["cancel_requested"] is True
    result = AsyncResult(task_id, app=celery_app).get(timeout=RESULT_TIMEOUT_S)
    run = repository.get_benchmark(worker_db, result["benchmark_id"])
    assert run is not None and run["status"] == "incomplete" and run["error"] == "cancelled on request"
    steps = run["results"]["steps"]
    assert 1 <= len(steps) < 5 and steps[0]["result"]["complete"] is True
    assert run["results"]["complete"] is False and run["resource_utilization"]["samples"]
    assert run["finished_at"] is not None


@pytest.mark.parametrize(("signal", "error"), [("SIGUSR1", "SoftTimeLimitExceeded"), ("SIGTERM", "Terminated")])
def test_given_a_running_load_test_when_the_worker_interrupts_it_then_the_row_is_incomplete_and_kept(
    api: str, worker_db: str, celery_app: Celery, published: redis.Redis, signal: str, error: str,
) -> None:
    """SIGUSR1 is how the prefork pool raises a soft time limit into a task; SIGTERM is revoke's terminate."""
    body = {"mode": "steps", "steps": [1, 2, 3], "rate": 10, "step_duration_s": 2, "base_url": api}
    task_id = start(api, "/api/v1/performance/load-test", body)
    progress = wait_progress(api, task_id, lambda p: p.get("done", 0) >= 1)
    celery_app.control.revoke(task_id, terminate=True, signal=signal)
    with pytest.raises(Exception):  # noqa: B017 - FAILURE (SoftTimeLimitExceeded) or REVOKED, by timing
        AsyncResult(task_id, app=celery_app).get(timeout=RESULT_TIMEOUT_S)
    deadline = time.monotonic() + 10
    while (run := repository.get_benchmark(worker_db, progress["benchmark_id"])) is not None \
            and run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run is not None and run["status"] == "incomplete", run
    assert run["error"].startswith(error)
    steps = run["results"]["steps"]
    assert len(steps) == 2 and steps[0]["result"]["complete"] and not steps[1]["result"]["complete"]
    assert run["resource_utilization"]["samples"]


@pytest.fixture(scope="module")
def bench_run(api: str, worker_db: str, redis_url: str, step_run: dict[str, Any]) -> dict[str, Any]:
    """``agentload benchmark --api URL``: the CLI posts to the endpoint and follows the worker's task."""
    cli = typer.Typer()
    register(cli)
    cli.command("noop")(lambda: None)  # a Typer app with one command would make it the root command
    out = CliRunner().invoke(cli, ["benchmark", "--api", api, "--rate", "20", "--duration", "1",
                                   "--api-pid", str(os.getpid()), "--request",
                                   "write the product requirements for our checkout redesign"])
    assert out.exit_code == 0, out.output
    benchmark_id = re.search(r"benchmark ([0-9a-f-]{36}) over", out.output)
    assert benchmark_id is not None, out.output
    run = repository.get_benchmark(worker_db, benchmark_id.group(1))
    assert run is not None
    return run


def test_given_the_benchmark_when_run_from_the_cli_then_strategies_are_compared_and_the_flag_restored(
    bench_run: dict[str, Any], worker_db: str, redis_url: str,
) -> None:
    assert bench_run["status"] == "complete", bench_run
    assert bench_run["kind"] == "benchmark" and bench_run["results"]["workload"] > 100
    rows = {r["strategy"]: r for r in bench_run["results"]["strategies"]}
    assert set(rows) == {"full", "selective", "cached"}
    assert rows["selective"]["tokens_per_request"] < rows["full"]["tokens_per_request"]
    assert all(r["error_rate"] == 0 and r["requests"] > 0 and r["cpu_source"] == "api" for r in rows.values())
    assert redis.Redis.from_url(redis_url).get(keys.STRATEGY) is None  # restored to "unset"
    ledger = {r["key"] for r in repository.token_usage_summary(worker_db)}
    assert {"full", "selective", "cached"} <= ledger
    categories = {m["category"] for m in repository.recent_performance_metrics(worker_db, limit=500)
                  if m["benchmark_id"] == bench_run["id"]}
    assert categories == {"baseline", "optimization", "benchmark"}


def test_given_events_when_the_db_is_briefly_unavailable_then_flush_loses_and_double_counts_nothing(
    api: str, published: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    published.delete(keys.SELECTION_EVENTS)
    for phase in (1, 2, 3):
        assert httpx.get(f"{api}{SEL}", params={"phase": phase, "user_id": "alice"}, timeout=5).status_code == 200

    def alice() -> list[bytes]:
        return [e for e in published.lrange(keys.SELECTION_EVENTS, 0, -1) if orjson.loads(e).get("user") == "alice"]

    deadline = time.monotonic() + 5
    while len(alice()) < 3 and time.monotonic() < deadline:  # events reach Redis after the response
        time.sleep(0.02)
    events = published.lrange(keys.SELECTION_EVENTS, 0, -1)
    assert len(alice()) == 3
    monkeypatch.setenv("AGENTLOAD_DATABASE_URL", f"sqlite:///{tmp_path}")  # a directory: cannot be opened
    get_settings.cache_clear()
    with pytest.raises(OperationalError):
        jobs.flush_selection_events()
    assert published.lrange(keys.SELECTION_EVENTS, 0, len(events) - 1) == events  # all back, in order

    good = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(good)
    monkeypatch.setenv("AGENTLOAD_DATABASE_URL", good)
    get_settings.cache_clear()
    first = jobs.flush_selection_events()
    second = jobs.flush_selection_events()
    assert first["events"] >= 3 and first["invalid"] == 0 and second["events"] == 0
    loading = repository.recent_agent_loading_metrics(good, user="alice")
    assert len(loading) == 3 and {r["context_hash"] for r in loading} == {
        orjson.loads(e)["context_hash"] for e in events if orjson.loads(e).get("user") == "alice"}
    by_user = {r["key"]: r["count"] for r in repository.token_usage_summary(good, group_by="user")}
    assert by_user["alice"] == 3


def test_given_stored_runs_when_the_report_is_written_then_every_plot_is_drawn_from_them(
    step_run: dict[str, Any], bench_run: dict[str, Any], worker_db: str, published: redis.Redis,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLOAD_DATABASE_URL", worker_db)
    get_settings.cache_clear()
    published.rpush(keys.SELECTION_EVENTS, orjson.dumps({  # one served selection, as the API writes it
        "strategy": "selective", "context_hash": "k", "agents": ["pm"], "loaded_tokens": 900, "manifest_tokens": 80,
        "baseline_tokens": 5504, "optimized_tokens": 980, "reduction": 0.82, "cache_hit": True, "source": "api"}))
    jobs.flush_selection_events()
    jobs.flush_cache_stats()
    repository.insert_token_optimization(worker_db, [  # journey accounting (agentload journey --tokens --store)
        {"strategy": f"journey:{s}", "context_hash": "journey:bmm:method:greenfield:000:prd",
         "baseline_tokens": 400_000, "optimized_tokens": n} for s, n in (("agents", 900), ("progressive", 3500))])
    scenarios = [SUITE] if SUITE.exists() else None
    out = write_report(tmp_path / "report.html", worker_db, published, scenarios)
    html = out.read_text(encoding="utf-8")
    missing = [pid for pid in PLOT_IDS.values() if f'id="{pid}"' not in html]
    assert missing == []
    assert step_run["run"]["id"] in html and bench_run["id"] in html
    if scenarios:
        assert 'id="table-selection-quality"' in html and "bmm-requests" in html
