"""Evaluation: the per-scenario contract line, scenario reading and the summary maths."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from _fixtures import REQUESTS, STRUCTURED, bundled_selector, read_suite, require

from agentload.context import Context
from agentload.measure.evaluation import evaluate_one, public, read_scenarios, reduction, summarize
from agentload.selection.engine import Selector

CONTRACT_KEYS = ["id", "agents", "loaded_tokens", "manifest_tokens", "baseline_tokens", "skills", "layout"]


@pytest.fixture(scope="module")
def selector() -> Selector:
    return bundled_selector()


def _line(rid: str, agents: int, loaded: int, manifest: int, ok: bool | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"id": rid, "agents": [f"a{i}" for i in range(agents)], "loaded_tokens": loaded,
                            "manifest_tokens": manifest, "baseline_tokens": 1000}
    if ok is not None:
        line["_recall_ok"] = ok
    return line


def test_given_scenario_when_evaluating_then_public_line_has_exactly_the_contract_keys(selector: Selector) -> None:
    scenario = {"id": "s1", "context": {"track": "bmad-method", "phase": 2}, "required_agents": ["pm"]}
    line = evaluate_one(selector, scenario)
    assert list(public(line)) == CONTRACT_KEYS
    assert line["_recall_ok"] is True
    sel = selector.select(Context(**scenario["context"]))
    assert public(line) == {"id": "s1", "agents": sel.agent_ids, "loaded_tokens": sel.loaded_tokens,
                            "manifest_tokens": sel.manifest_tokens, "baseline_tokens": sel.baseline_tokens,
                            "skills": [], "layout": "v6-source"}


def test_given_scenario_without_ground_truth_when_evaluating_then_no_recall_flag(selector: Selector) -> None:
    line = evaluate_one(selector, {"context": {}})
    assert "_recall_ok" not in line and line["id"] is None
    assert list(public(line)) == CONTRACT_KEYS


def test_given_missed_agent_when_evaluating_then_recall_flag_is_false(selector: Selector) -> None:
    line = evaluate_one(selector, {"id": "m", "context": {"next_workflow": "prd"}, "required_agents": ["tea"]})
    assert line["_recall_ok"] is False


def test_given_full_strategy_when_evaluating_then_every_agent_and_no_manifest(selector: Selector) -> None:
    line = evaluate_one(selector, {"id": "f", "context": {}}, "full")
    assert line["agents"] == sorted(selector.catalog.agents)
    assert line["manifest_tokens"] == 0 and line["loaded_tokens"] == line["baseline_tokens"]
    assert reduction(line) == 0.0


def test_given_lines_when_summarizing_then_recall_means_and_percentiles_are_exact() -> None:
    lines = [
        _line("a", 1, 100, 100, True),   # reduction 0.8
        _line("b", 2, 300, 100, False),  # 0.6
        _line("c", 1, 50, 50, True),     # 0.9
        _line("d", 3, 900, 100),         # 0.0, not judged
    ]
    s = summarize(lines)
    reds = sorted([0.8, 0.6, 0.9, 0.0])
    assert s["scenarios"] == 4
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["missed"] == ["b"]
    assert s["mean_agents"] == round(statistics.mean([1, 2, 1, 3]), 3) == 1.75
    assert s["median_reduction"] == round(statistics.median(reds), 4) == 0.7
    assert s["mean_reduction"] == round(statistics.mean(reds), 4) == 0.575
    assert s["p10_reduction"] == reds[int(0.1 * 3)] == 0.0
    assert s["baseline_tokens"] == 1000


def test_given_eleven_lines_when_summarizing_then_p10_is_the_second_smallest() -> None:
    lines = [_line(str(i), 1, 10 * i, 0) for i in range(11)]  # reductions 1.0, 0.99, ..., 0.90
    s = summarize(lines)
    assert s["p10_reduction"] == pytest.approx(0.91)
    assert s["recall"] is None and s["missed"] == []


def test_given_no_lines_when_summarizing_then_only_count() -> None:
    assert summarize([]) == {"scenarios": 0}


def test_given_zero_baseline_when_computing_reduction_then_zero() -> None:
    assert reduction({"baseline_tokens": 0, "loaded_tokens": 5, "manifest_tokens": 1}) == 0.0


def test_given_jsonl_with_blank_lines_when_reading_then_they_are_skipped(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text('{"id": 1, "context": {}}\n\n   \n{"id": 2, "context": {"phase": 1}}\n')
    assert [s["id"] for s in read_scenarios(f)] == [1, 2]


@pytest.mark.parametrize(
    ("body", "message"),
    [('{"id": 1, "context": {}}\n{broken\n', "s.jsonl:2: not JSON"),
     ('{"id": 1}\n', "s.jsonl:1: a scenario needs a 'context' object"),
     ('[1, 2]\n', "s.jsonl:1: a scenario needs"),
     ('{"context": "phase 2"}\n', "s.jsonl:1: a scenario needs")],
)
def test_given_bad_line_when_reading_then_value_error_names_file_and_line(
    tmp_path: Path, body: str, message: str
) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text(body)
    with pytest.raises(ValueError, match=message):
        list(read_scenarios(f))


def test_given_shared_suites_when_evaluating_then_summary_matches_the_selector(selector: Selector) -> None:
    require(STRUCTURED, "structured suite")
    lines = [evaluate_one(selector, s) for s in read_scenarios(STRUCTURED)]
    s = summarize(lines)
    assert s["scenarios"] == len(read_suite(STRUCTURED)) and s["recall"] == 1.0 and s["missed"] == []
    assert 0.0 < s["p10_reduction"] <= s["median_reduction"] < 1.0
    req = summarize(evaluate_one(selector, x) for x in read_scenarios(require(REQUESTS, "request suite")))
    assert req["recall"] >= 0.95
    full = summarize(evaluate_one(selector, x, "full") for x in read_scenarios(STRUCTURED))
    assert full["recall"] == 1.0 and full["median_reduction"] == 0.0
    assert full["mean_agents"] == len(selector.catalog.agents)
