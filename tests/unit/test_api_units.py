"""Pure parts of the request path: layering, percentiles, error messages, schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agentload.api import livestats
from agentload.api.problems import SHOWN_CHARS, database_failure, describe, redis_failure, shown
from agentload.api.schemas import SelectionQuery, query_parameters

ROOT = Path(__file__).resolve().parents[2]
THIN_PATH = [*sorted((ROOT / "agentload" / "api").rglob("*.py")), ROOT / "agentload" / "mcp_server.py",
             ROOT / "agentload" / "measure" / "journey.py"]


def top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", THIN_PATH, ids=lambda p: str(p.relative_to(ROOT)))
def test_given_the_request_path_when_scanning_imports_then_no_worker_or_task_code(path: Path) -> None:
    assert not top_level_imports(path) & {"workers", "tasks"}


@pytest.mark.parametrize(("ms", "label"), [(0.1, "0.25"), (0.25, "0.25"), (0.3, "0.5"), (9.9, "10"),
                                           (10_000, "10000"), (10_001, "inf")])
def test_given_a_latency_when_bucketed_then_smallest_upper_bound(ms: float, label: str) -> None:
    assert livestats.bucket_label(ms) == label


def test_given_bucket_counts_when_summarized_then_interpolated_percentiles() -> None:
    summary = livestats.summarize({"1": 50, "2": 49, "10": 1}, sum_us=200_000)
    assert summary["count"] == 100 and summary["mean_ms"] == 2.0
    assert 0.75 < summary["p50_ms"] <= 1.0
    assert 1.5 < summary["p90_ms"] <= 2.0
    assert summary["p99_ms"] <= 2.0
    assert livestats.summarize({})["p99_ms"] is None


def test_given_validation_errors_when_described_then_each_field_is_named() -> None:
    detail, items = describe([
        {"loc": ("query", "phase"), "msg": "too small", "type": "greater_than_equal"},
        {"loc": ("body", "context", "phase"), "msg": "too big", "type": "less_than_equal"},
        {"loc": ("body", 12), "msg": "JSON decode error", "type": "json_invalid"},
    ])
    assert detail == "query.phase: too small; context.phase: too big; body: JSON decode error"
    assert [i["field"] for i in items] == ["query.phase", "context.phase", "body"]


def test_given_dependency_errors_when_summarized_for_a_client_then_no_host_port_or_sql() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    leaky = 'connection to server at "10.1.2.3", port 5432 failed\n[SQL: SELECT secret]'
    assert database_failure(RuntimeError(leaky)) == "RuntimeError"
    assert redis_failure(RedisConnectionError("Error 111 connecting to 10.1.2.3:6379.")) == "connection failed"
    assert redis_failure(RedisTimeoutError("Timeout reading from 10.1.2.3:6379")) == "timed out"
    assert redis_failure(RedisConnectionError("max number of clients reached")) == "too many connections"


def test_given_a_huge_client_value_when_quoted_in_an_error_then_it_is_cut() -> None:
    assert shown("pm") == "'pm'"
    cut = shown("z" * 1_000_000)
    assert len(cut) < SHOWN_CHARS + 40 and "1000000 chars" in cut


def test_given_the_selection_query_model_when_documented_then_every_field_is_a_query_parameter() -> None:
    params = {p["name"]: p for p in query_parameters(SelectionQuery)}
    assert set(params) == set(SelectionQuery.model_fields)
    assert params["workflow_history"]["explode"] is True
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["phase"]["example"] == 2


def test_given_a_reason_naming_server_paths_when_shown_to_anyone_then_paths_are_hidden() -> None:
    from agentload.api.problems import without_paths

    text = "EmptyCatalog: no agents under /srv/app/project (looked for: .bmad-core, _bmad)"
    assert without_paths(text) == "EmptyCatalog: no agents under <path> (looked for: .bmad-core, _bmad)"
    assert without_paths("Permission denied: '/srv/x/_bmad'") == "Permission denied: '<path>'"
    relative = "src/modules/bmm/agents/pm.agent.yaml: bad YAML"  # catalog-relative paths stay
    assert without_paths(relative) == relative
