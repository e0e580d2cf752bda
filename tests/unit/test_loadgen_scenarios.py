"""Scenario builders: the requests they produce, alone and through the runner (in-memory transport)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import httpx
import pytest

from agentload.measure.loadgen.runner import run_load
from agentload.measure.loadgen.scenarios import (
    PRELOAD_PATH,
    SELECTION_PATH,
    context_params,
    journeys,
    mixed,
    preload_writes,
    project_id,
    selection_reads,
)
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec

CONTEXTS = [
    {"track": "bmad-method", "phase": "planning", "complexity_level": 3, "has_ui": True,
     "workflow_history": ["brainstorm", "prd"], "next_workflow": "architecture", "request": "design the api"},
    {"field_type": "greenfield", "user_role": "developer", "has_ui": False, "phase": None},
]


def test_given_context_when_building_query_then_lists_repeat_and_booleans_are_words() -> None:
    params = context_params(CONTEXTS[0])
    assert params == [
        ("track", "bmad-method"), ("phase", "planning"), ("complexity_level", "3"), ("has_ui", "true"),
        ("next_workflow", "architecture"), ("workflow_history", "brainstorm"), ("workflow_history", "prd"),
        ("request", "design the api"),
    ]
    assert context_params(CONTEXTS[1]) == [("field_type", "greenfield"), ("has_ui", "false"),
                                           ("user_role", "developer")]


def test_given_contexts_when_reading_selections_then_users_walk_contexts_from_their_offset() -> None:
    scenario = selection_reads(CONTEXTS)
    first, second = scenario(0, 0), scenario(0, 1)
    assert first.method == "GET" and first.path == SELECTION_PATH and first.label == "selection"
    assert list(first.params) == context_params(CONTEXTS[0])
    assert list(second.params) == context_params(CONTEXTS[1])
    assert list(scenario(1, 0).params) == context_params(CONTEXTS[1])
    assert "Authorization" not in first.headers
    with pytest.raises(ValueError, match="at least one context"):
        selection_reads([])


def test_given_token_when_preloading_then_posts_context_with_bearer() -> None:
    request = preload_writes(CONTEXTS, "secret-token")(0, 0)
    assert (request.method, request.path, request.label) == ("POST", PRELOAD_PATH, "preload")
    assert request.json == {"context": CONTEXTS[0]}
    assert request.headers["Authorization"] == "Bearer secret-token"


def test_given_journey_when_stepping_then_puts_state_before_getting_selection() -> None:
    scenario = journeys(CONTEXTS, "tok")
    put, read = scenario(7, 0), scenario(7, 1)
    assert put.method == "PUT" and put.path == "/api/v1/projects/loadgen-0007/workflow-state"
    assert put.json == CONTEXTS[1] and put.label == "workflow-state"
    assert read.method == "GET" and read.path == SELECTION_PATH
    assert ("project_id", project_id(7)) in read.params
    assert list(read.params)[:-1] == context_params(CONTEXTS[1])
    assert scenario(7, 2).path == put.path and scenario(7, 2).json == CONTEXTS[0]


def test_given_default_weights_when_mixing_then_proportions_are_80_15_5() -> None:
    scenario = mixed(CONTEXTS, "tok", seed=3)
    labels = Counter(scenario(u, s).label for u in range(20) for s in range(200))
    total = sum(labels.values())
    assert labels["selection"] / total == pytest.approx(0.80, abs=0.03)
    assert labels["preload"] / total == pytest.approx(0.15, abs=0.03)
    assert (labels["workflow-state"] + labels["journey-selection"]) / total == pytest.approx(0.05, abs=0.02)
    one, two = mixed(CONTEXTS, "tok", seed=3), mixed(CONTEXTS, "tok", seed=3)
    assert [one(0, s).label for s in range(50)] == [two(0, s).label for s in range(50)]


async def test_given_mixed_scenario_when_running_then_requests_reach_the_api_paths_in_order() -> None:
    seen: dict[str, list[str]] = defaultdict(list)

    def handler(request: httpx.Request) -> httpx.Response:
        user = request.url.params.get("project_id") or request.url.path.split("/")[-2]
        seen[user].append(request.method)
        if request.method in ("POST", "PUT"):
            assert request.headers["Authorization"] == "Bearer tok"
            json.loads(request.content)
        return httpx.Response(200, json={"agents": []})

    spec = LoadSpec.with_limits(LoadLimits(10, 1000, 5), base_url="http://127.0.0.1:1", users=4, rate=400,
                                duration_s=0.5, scenario="mixed")
    scenario = mixed(CONTEXTS, "tok", weights=(0, 0, 1))
    result = await run_load(spec, scenario, transport=httpx.MockTransport(handler))

    assert result.scenario == "mixed" and result.completed == 200 and result.errors == {}
    assert set(result.per_label) == {"workflow-state", "journey-selection"}
    assert set(seen) == {project_id(u) for u in range(4)}
    for methods in seen.values():
        assert methods[0::2] == ["PUT"] * (len(methods[0::2]))
        assert methods[1::2] == ["GET"] * (len(methods[1::2]))
