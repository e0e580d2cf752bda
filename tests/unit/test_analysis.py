"""Load-test maths against known data: percentiles, knees, degradation and comparisons."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from agentload.measure.analysis import (
    compare,
    degradation_analysis,
    knee_point,
    percentile,
    ratio,
    reduction,
    speedup,
)

USERS = [1, 5, 10, 25, 50, 100, 200]


def steps_fixture() -> list[dict[str, float]]:
    thr = [10, 50, 100, 240, 300, 305, 290]
    p50 = [10, 10, 11, 12, 15, 60, 400]
    p99 = [20, 21, 22, 30, 50, 900, 2000]
    err = [0, 0, 0, 0, 0, 0.005, 0.05]
    return [
        {"users": u, "throughput_rps": t, "p50_ms": a, "p99_ms": b, "error_rate": e}
        for u, t, a, b, e in zip(USERS, thr, p50, p99, err, strict=True)
    ]


def test_given_random_samples_when_taking_percentiles_then_matches_numpy_linear() -> None:
    rng = random.Random(7)
    for n in (1, 2, 5, 101, 1000):
        values = [rng.expovariate(1 / 20) for _ in range(n)]
        for q in (0, 1, 50, 90, 95, 99, 99.9, 100):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)


def test_given_known_values_when_taking_percentiles_then_interpolates_linearly() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4


def test_given_bad_input_when_taking_percentile_then_raises_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], 101)


def test_given_convex_latency_curve_when_finding_knee_then_returns_bend_index() -> None:
    xs = list(range(1, 11))
    ys = [1, 1, 1, 1, 1, 1, 2, 4, 8, 16]
    assert knee_point(xs, ys) == 6


def test_given_hockey_stick_vs_users_when_finding_knee_then_returns_last_point_before_blowup() -> None:
    assert knee_point(USERS, [10, 10, 11, 12, 15, 60, 400]) == 5


def test_given_flat_curve_when_finding_knee_then_returns_none() -> None:
    assert knee_point(USERS, [5.0] * 7) is None
    assert knee_point(USERS, [10.0, 10.2, 9.9, 10.1, 10.0, 10.3, 10.1]) is None


def test_given_linear_or_concave_curve_when_finding_knee_then_returns_none() -> None:
    assert knee_point(USERS, [2 * u + 1 for u in USERS]) is None
    assert knee_point(USERS, [min(u, 25) * 10 for u in USERS]) is None


def test_given_malformed_curve_when_finding_knee_then_rejects_or_returns_none() -> None:
    assert knee_point([1, 2], [1, 5]) is None
    with pytest.raises(ValueError, match="length"):
        knee_point([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="increasing"):
        knee_point([1, 3, 2], [1, 2, 3])


def test_given_degrading_steps_when_analysing_then_reports_knee_saturation_and_breach() -> None:
    result = degradation_analysis(steps_fixture())

    assert result["knee_users"] == 50
    assert result["knee_index"] == 4
    assert result["saturation_throughput_rps"] == 305
    assert result["saturation_users"] == 100
    assert result["plateau_users"] == 50
    assert result["error_rates"] == [0, 0, 0, 0, 0, 0.005, 0.05]
    assert result["p99_p50_ratio"][0] == pytest.approx(2.0)
    p50 = [s["p50_ms"] for s in steps_fixture()]
    assert result["p50_cv"] == pytest.approx(float(np.std(p50) / np.mean(p50)))
    breach = result["first_breach"]
    assert breach["users"] == 200 and breach["index"] == 6
    assert "p99" in breach["reason"] and "error rate" in breach["reason"]
    json.dumps(result)


def test_given_healthy_steps_when_analysing_then_no_breach_and_no_knee() -> None:
    steps = [{"users": u, "throughput_rps": 10.0 * u, "p50_ms": 5.0, "p99_ms": 9.0, "error_rate": 0.0}
             for u in USERS]
    result = degradation_analysis(steps)
    assert result["first_breach"] is None
    assert result["knee_users"] is None
    assert result["p50_cv"] == 0.0
    assert result["saturation_users"] == 200


def test_given_objects_with_attributes_when_analysing_then_reads_them_like_mappings() -> None:
    class Step:
        def __init__(self, data: dict[str, float]) -> None:
            self.__dict__.update(data)

    as_objects = degradation_analysis([Step(s) for s in steps_fixture()])  # type: ignore[misc]
    assert as_objects == degradation_analysis(steps_fixture())


def test_given_no_steps_when_analysing_then_returns_empty_fields() -> None:
    result = degradation_analysis([])
    assert result["steps"] == 0 and result["knee_users"] is None and result["first_breach"] is None


def test_given_before_and_after_when_comparing_then_ratios_and_changes_are_relative() -> None:
    assert reduction(1000, 300) == pytest.approx(0.7)
    assert reduction(0, 5) is None
    assert ratio(1, 0) is None
    assert speedup(100, 25) == 4.0
    out = compare({"p50": 10.0, "tokens": 1000, "name": "x"}, {"p50": 5.0, "tokens": 300, "extra": 1})
    assert set(out) == {"p50", "tokens"}
    assert out["p50"]["ratio"] == 0.5 and out["p50"]["change"] == -0.5
    assert out["tokens"]["change"] == pytest.approx(-0.7)
