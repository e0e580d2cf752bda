"""The tuning maths of ``run_optimize``: the grid, the choice rule, evaluation on labelled cases."""

from __future__ import annotations

from typing import Any

import pytest
from _fixtures import REQUESTS, bundled_catalog, read_suite

from agentload.measure.jobs.optimize import choose, evaluate_config, grid, tune
from agentload.measure.params import OptimizeParams
from agentload.selection.engine import SelectionConfig

CURRENT = (0.72, 1.0)


def pt(ratio: float, score: float, recall: float | None, median: float, mean: float = 0.5) -> dict[str, Any]:
    return {"text_close_ratio": ratio, "text_min_score": score, "recall": recall, "median_reduction": median,
            "mean_reduction": mean}


def test_given_points_when_choosing_then_the_largest_median_whose_recall_reaches_the_target_wins() -> None:
    points = [pt(0.72, 1.0, 0.99, 0.85), pt(0.9, 1.0, 0.96, 0.86), pt(0.95, 4.0, 0.90, 0.90)]
    assert choose(points, 0.95, CURRENT) is points[1]


def test_given_equal_medians_when_choosing_then_mean_reduction_then_the_current_values_break_the_tie() -> None:
    by_mean = [pt(0.8, 1.0, 1.0, 0.86, mean=0.80), pt(0.9, 1.0, 1.0, 0.86, mean=0.82)]
    assert choose(by_mean, 0.95, CURRENT) is by_mean[1]
    same = [pt(0.5, 1.0, 1.0, 0.85), pt(0.72, 1.0, 1.0, 0.85), pt(0.75, 1.0, 1.0, 0.85)]
    assert choose(same, 0.95, CURRENT) is same[1]
    away = [pt(0.5, 1.0, 1.0, 0.85), pt(0.75, 1.0, 1.0, 0.85)]
    assert choose(away, 0.95, CURRENT) is away[1]  # the smaller move


def test_given_no_point_reaching_the_target_when_choosing_then_nothing_is_chosen() -> None:
    assert choose([pt(0.72, 1.0, 0.9, 0.85), pt(0.9, 1.0, None, 0.9)], 0.95, CURRENT) is None


def test_given_a_grid_when_built_then_the_current_values_are_always_in_it() -> None:
    configs = grid(SelectionConfig(), [0.6, 0.9], [2.0])
    assert {(c.text_close_ratio, c.text_min_score) for c in configs} == {
        (r, s) for r in (0.6, 0.72, 0.9) for s in (1.0, 2.0)}
    assert all(c.text_max_agents == SelectionConfig().text_max_agents for c in configs)


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return read_suite(REQUESTS)[:16]


def test_given_labelled_cases_when_evaluating_a_config_then_recall_and_reduction_follow_evaluation(
    cases: list[dict[str, Any]],
) -> None:
    result = evaluate_config(bundled_catalog(), SelectionConfig(), cases)
    assert result["scenarios"] == 16 and 0 < result["median_reduction"] < 1
    assert result["recall"] == 1 - len(result["missed"]) / 16
    starved = evaluate_config(bundled_catalog(), SelectionConfig(text_min_score=1e9), cases)
    assert starved["recall"] < result["recall"]  # no free-text pick at all: only the orchestrator is loaded


def test_given_labelled_cases_when_tuning_then_the_best_reduction_within_the_recall_target_is_chosen(
    cases: list[dict[str, Any]],
) -> None:
    def run(target: float) -> dict[str, Any]:
        p = OptimizeParams.model_validate({"scenarios": cases, "close_ratios": [0.5, 0.95], "min_scores": [1e9],
                                           "recall_target": target})
        return tune(bundled_catalog(), SelectionConfig(), cases, p)

    strict = run(0.99)
    assert len(strict["grid"]) == 6
    assert (strict["before"]["text_close_ratio"], strict["before"]["text_min_score"]) == CURRENT
    starved = [g for g in strict["grid"] if g["text_min_score"] == 1e9]
    assert all(g["median_reduction"] > strict["after"]["median_reduction"] and g["recall"] < 0.99 for g in starved)
    eligible = [g for g in strict["grid"] if g["recall"] >= 0.99]
    assert strict["after"]["median_reduction"] == max(g["median_reduction"] for g in eligible)
    loose = run(0.8)  # a lower target buys a larger reduction, at a recall still >= 0.8
    assert loose["changed"] and loose["after"]["recall"] >= 0.8
    assert loose["after"]["median_reduction"] > strict["after"]["median_reduction"]
