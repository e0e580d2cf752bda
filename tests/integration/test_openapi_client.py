"""A Python client generated from the API's own OpenAPI spec reads every answer of the real API.

``openapi-python-client`` (a dev dependency; generation is local, about a second) builds a
client from ``/openapi.json`` of ``create_app`` served by uvicorn on a private Redis holding the
bundled catalog and a migrated SQLite database with one row of each history table. Every
operation is called through that client, and each answer must parse into the model its status
declares: the generated parsers raise on a missing field or a wrong structure, a body key the
spec does not declare is reported from the models' ``additional_properties``, and the body is
also validated against the declared JSON schema (the generated parsers do not check scalar
types). Failures (401, 403,
404, 413, 422) must parse as ``Problem``, a 422 with its ``errors``. The set of operations called
is compared with the spec's, so a new route without a call here fails.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import orjson
import pytest
from faults import BUNDLED, TOKEN, redis_server, serve
from jsonschema import Draft202012Validator

from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from models import migrate, repository

PACKAGE = "agentload_generated_client"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}


def generator() -> list[str]:
    """The ``openapi-python-client`` CLI of the interpreter running the tests (the project venv)."""
    cli = Path(sys.executable).with_name("openapi-python-client")
    return [str(cli)] if cli.exists() else [sys.executable, "-m", "openapi_python_client"]


def _history_rows(db: str) -> None:
    """One row per table the history endpoints read, written through the repository."""
    run = repository.create_benchmark(db, "step test", "scalability", {"users": [1, 2]})
    repository.update_benchmark(db, run, status="complete", results={
        "scenario": "selection_reads", "mode": "steps", "degradation": {"knee_users": 2},
        "steps": [{"users": 1, "rate": 5.0, "throughput_rps": 5.0, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0,
                   "error_rate": 0.0, "breach": None, "result": {"complete": True}}]},
        resource_utilization={"summary": {"cpu_percent_mean": 12.5}, "samples": [{"t": 0.0, "cpu": 12.5}]})
    repository.insert_performance_metrics(db, [{"category": "benchmark", "metric_name": "p99_ms", "metric_value": 3.0,
                                                "unit": "ms", "labels": {"run": 1}, "benchmark_id": run}])
    repository.insert_cache_performance(db, [{"cache_type": "selections", "hits": 3, "misses": 1}])
    repository.insert_token_optimization(db, [{"user": "alice", "project": "acme", "strategy": "selective",
                                               "baseline_tokens": 1000, "optimized_tokens": 200, "agents": ["pm"]}])


@dataclass
class Api:
    base: str
    spec: dict[str, Any]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("openapi-client")
    db = f"sqlite:///{tmp / 'api.db'}"
    migrate.upgrade(db)
    _history_rows(db)
    with redis_server(tmp / "redis") as server:
        settings = Settings(env="test", redis_url=server.url, api_token=TOKEN, database_url=db,
                            catalog_path=BUNDLED, max_wait_ms=50)
        client = server.client()
        refresh_catalog(client, settings, WorkerState(), force=True)
        client.close()
        with serve(create_app(settings)) as base:
            yield Api(base, httpx.get(f"{base}/openapi.json").json())


@pytest.fixture(scope="module")
def generated(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package generated from the served spec, imported (removed from sys.path after)."""
    out = tmp_path_factory.mktemp("generated")
    (out / "spec.json").write_text(httpx.get(f"{api.base}/openapi.json").text)
    (out / "config.yaml").write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    done = subprocess.run([*generator(), "generate", "--path", str(out / "spec.json"), "--meta", "none",
                           "--output-path", str(out / PACKAGE), "--config", str(out / "config.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def undeclared(value: Any, where: str = "$") -> list[str]:
    """Body keys the spec does not declare, found in a parsed answer (open maps are walked into)."""
    found: list[str] = []
    if attrs.has(type(value)):
        names = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
        extra: dict[str, Any] = getattr(value, "additional_properties", {})
        if names and extra:
            found.append(f"{where}: {sorted(extra)}")
        for name in names:
            found += undeclared(getattr(value, name), f"{where}.{name}")
        for key, item in extra.items():
            found += undeclared(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += undeclared(item, f"{where}[{i}]")
    return found


@dataclass
class Caller:
    """Calls operations of the generated client by operation id and records which were called."""

    package: ModuleType
    base: str
    spec: dict[str, Any]
    called: set[str] = field(default_factory=set)

    def client(self, token: str | None = TOKEN) -> Any:
        client = importlib.import_module(f"{self.package.__name__}.client")
        if token is None:
            return client.Client(base_url=self.base, raise_on_unexpected_status=True, timeout=httpx.Timeout(30))
        return client.AuthenticatedClient(base_url=self.base, token=token, raise_on_unexpected_status=True,
                                          timeout=httpx.Timeout(30))

    def schema(self, operation: str, status: int) -> Draft202012Validator | None:
        """A validator of the JSON body ``operation`` declares for ``status`` (None: not JSON)."""
        found = [op for item in self.spec["paths"].values() for op in item.values() if op["operationId"] == operation]
        content = found[0]["responses"][str(status)]["content"]
        if "application/json" not in content:
            return None
        return Draft202012Validator({**content["application/json"]["schema"], "components": self.spec["components"]},
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def model(self, name: str) -> type:
        return getattr(importlib.import_module(f"{self.package.__name__}.models"), name)

    def call(self, tag: str, operation: str, status: int, parsed_as: str | None, *args: Any,
             token: str | None = TOKEN, **kwargs: Any) -> Any:
        """Call ``operation``; assert the status and that the body parsed as ``parsed_as`` with
        every key declared; return the parsed answer."""
        module: Any = importlib.import_module(f"{self.package.__name__}.api.{tag}.{operation}")
        answer = module.sync_detailed(*args, client=self.client(token), **kwargs)
        self.called.add(operation)
        assert answer.status_code == status, (operation, answer.status_code, answer.content[:300])
        declared = self.schema(operation, status)
        if declared is not None:
            errors = [f"{e.json_path}: {e.message}"[:300] for e in declared.iter_errors(orjson.loads(answer.content))]
            assert errors == [], (operation, status, errors)
        if parsed_as is not None:
            assert type(answer.parsed).__name__ == parsed_as, (operation, type(answer.parsed), answer.content[:300])
            assert undeclared(answer.parsed) == [], (operation, undeclared(answer.parsed))
        return answer.parsed


@pytest.fixture(scope="module")
def caller(generated: ModuleType, api: Api) -> Caller:
    return Caller(generated, api.base, api.spec)


def operations(spec: dict[str, Any]) -> set[str]:
    return {op["operationId"] for item in spec["paths"].values() for op in item.values()}


def test_given_the_generated_client_when_reading_everything_then_each_answer_parses_as_declared(
    caller: Caller, api: Api
) -> None:
    c = caller.call
    assert c("health", "healthz", 200, "Liveness").status == "ok"
    assert c("health", "readyz", 200, "Readiness").version
    assert "agentload_http_requests_total" in c("health", "prometheus_metrics", 200, None)
    status = c("selection", "optimized_loading", 200, "LoaderStatus")
    hit = c("selection", "optimized_loading", 200, "SelectionAnswer", **HOT)
    assert status.selections > 0 and hit.cache == "hit" and hit.agents and hit.resolved.phase == 2
    full = c("selection", "optimized_loading", 200, "SelectionAnswer", **HOT,
             include=caller.model("OptimizedLoadingInclude").FULL)
    assert all(agent.text for agent in full.agents)
    miss = c("selection", "optimized_loading", 202, "TaskAccepted", request="draft release notes for a billing fix")
    state = c("tasks", "task_state", 200, "TaskState", miss.task_id)
    assert state.state == "PENDING" and state.ready is False
    page = c("agents", "list_agents", 200, "ManifestPage", limit=3)
    assert page.total >= len(page.agents) == 3
    found = c("agents", "search_catalog", 200, "SearchResults", q="product requirements", limit=2)
    assert found.searched == page.total and 1 <= len(found.results) <= 2 and found.results[0].line.startswith("- ")
    agent = c("agents", "get_agent", 200, "AgentDocument", page.agents[0].id)
    assert agent.text and agent.version == page.version
    work_item_id = next(item.work_item for a in page.agents for item in
                        c("agents", "get_agent", 200, "AgentDocument", a.id).menu if isinstance(item.work_item, str))
    work_item = c("agents", "get_work_item", 200, "WorkItemDocument", work_item_id)
    assert work_item.text and work_item.files, "the bundled catalog's work items reference files"
    document = c("agents", "get_file", 200, "FileDocument", work_item.files[0].path)
    assert document.path == work_item.files[0].path and document.text
    cache = c("cache", "cache_status", 200, "CacheStatus")
    assert cache.version == page.version and cache.hit_rate.additional_properties["selections"].hits >= 1
    assert c("flags", "get_strategy", 200, "StrategyState").strategy == "selective"
    figures = c("performance", "performance_metrics", 200, "PerformanceFigures")
    assert figures.live.selections_served.api >= 2 and len(figures.history.performance_metrics) == 1
    assert figures.history.cache_performance[0].cache_type == "selections"
    usage = c("performance", "token_usage", 200, "TokenUsage", group_by=caller.model("TokenUsageGroupBy").USER)
    assert [(row.key, row.saved_tokens) for row in usage.rows] == [("alice", 800)]
    assert c("performance", "mcp_server", 200, "McpFigures").tools.additional_properties == {}
    steps = c("performance", "scalability", 200, "ScalabilityRuns").runs[0].steps
    assert [(s.users, s.p99_ms) for s in steps] == [(1, 3.0)]
    runs = c("performance", "benchmarks", 200, "BenchmarkRuns", full=True).runs
    assert runs[0].status == "complete" and runs[0].finished_at is not None


def test_given_the_generated_client_when_changing_things_then_each_answer_parses_as_declared(caller: Caller) -> None:
    c, model = caller.call, caller.model
    body = model("WorkflowState")(track="bmad-method", field_type="greenfield", phase=2, workflow_history=["prd"])
    stored = c("projects", "put_state", 200, "ProjectStateStored", "acme-shop", body=body)
    assert stored.state.workflow_history == ["prd"] and stored.transitions_counted >= 0
    assert c("projects", "get_state", 200, "ProjectState", "acme-shop").state.phase == 2
    preload = c("agents", "preload", 202, "TaskAccepted", body=model("PreloadBody")(project_id="acme-shop"))
    assert preload.poll_url.endswith(preload.task_id)
    refresh = c("cache", "refresh", 202, "TaskAccepted")
    assert refresh.debounced is False and c("cache", "refresh", 202, "TaskAccepted").debounced is True
    flag = c("flags", "put_strategy", 200, "StrategyState",
             body=model("StrategyBody")(strategy=model("StrategyBodyStrategy").SELECTIVE))
    assert flag.source == "redis"
    jobs = [c("performance", "load_test", 202, "TaskAccepted", body=model("LoadTestParams")(duration_s=1.0)),
            c("performance", "benchmark", 202, "TaskAccepted", body=model("BenchmarkParams")(duration_s=1.0)),
            c("performance", "optimize", 202, "TaskAccepted", body=model("OptimizeParams")(apply=False))]
    for job in jobs:  # nothing consumes the `long` queue here; cancel them anyway
        assert c("performance", "cancel", 202, "CancelRequested", job.task_id).cancel_requested is True


def test_given_bad_requests_when_sent_through_the_generated_client_then_each_failure_parses_as_a_problem(
    caller: Caller,
) -> None:
    c, model = caller.call, caller.model
    invalid = c("selection", "optimized_loading", 422, "Problem", phase=-1)
    assert invalid.detail.startswith("query.phase:") and [e.field for e in invalid.errors] == ["query.phase"]
    body = model("WorkflowState")(complexity_level=9)
    invalid_body = c("projects", "put_state", 422, "Problem", "acme-shop", body=body)
    assert [e.field for e in invalid_body.errors] == ["complexity_level"]
    too_many = c("agents", "search_catalog", 422, "Problem", q="pm", limit=101)
    assert [e.field for e in too_many.errors] == ["query.limit"]
    path = c("agents", "get_agent", 422, "Problem", "x" * 201)
    assert path.errors[0].field == "path.agent_id"
    assert c("tasks", "task_state", 404, "Problem", "a/b").detail == "Not Found"  # `/` leaves the route
    missing = c("agents", "get_agent", 404, "Problem", "no-such-agent")
    assert "no-such-agent" in missing.detail and isinstance(missing.errors, type(caller.package.types.UNSET))
    anonymous = c("cache", "refresh", 401, "Problem", token=None)
    assert anonymous.detail == "missing bearer token"
    assert c("cache", "refresh", 403, "Problem", token="wrong-token").detail == "invalid bearer token"
    huge = model("WorkflowState")(workflow_history=["x" * 1000] * 80)
    assert "byte limit" in c("projects", "put_state", 413, "Problem", "acme-shop", body=huge).detail


def test_given_the_tests_above_when_they_ran_then_every_operation_of_the_spec_was_called(
    caller: Caller, api: Api
) -> None:
    if not caller.called:
        pytest.skip("counts the calls of the tests above: run with them")
    assert operations(api.spec) - caller.called == set()
