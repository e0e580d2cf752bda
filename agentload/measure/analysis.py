"""Pure numbers for load-test results: percentiles, knees, degradation and comparisons.

This module does no I/O and knows nothing about HTTP or the load generator's types, so the
same maths serves the CLI, the HTML report and the tests, and can be checked against numpy
on known data. Step results are read through a small protocol (or plain mappings) so any
object with ``users``, ``throughput_rps``, ``p50_ms``, ``p99_ms`` and ``error_rate`` fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class StepLike(Protocol):
    """The fields of one load step that degradation analysis needs."""

    @property
    def users(self) -> float: ...

    @property
    def throughput_rps(self) -> float: ...

    @property
    def p50_ms(self) -> float: ...

    @property
    def p99_ms(self) -> float: ...

    @property
    def error_rate(self) -> float: ...


Step = StepLike | Mapping[str, Any]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with numpy's default ``linear`` interpolation.

    One convention everywhere matters: a p99 computed here must equal the one a reader
    recomputes with numpy, otherwise reports disagree with notebooks by a bucket.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within 0..100, got {q}")
    if len(values) == 0:
        raise ValueError("percentile of an empty sequence is undefined")
    return float(np.percentile(np.asarray(values, dtype=float), q, method="linear"))


def knee_point(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    min_distance: float = 0.1,
    flat_tolerance: float = 0.1,
) -> int | None:
    """Index of the knee of an increasing convex curve (e.g. latency vs users), or None.

    Kneedle-style: both axes are normalised to 0..1, then the point furthest *below* the
    chord joining the first and last points is the bend. Returning None instead of an
    arbitrary index matters: a flat curve (relative span of y within ``flat_tolerance``)
    or a straight/concave one (largest normalised distance < ``min_distance``) has no knee,
    and reporting one would invent a saturation point that the data does not show.
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} != {len(ys)})")
    if len(xs) < 3:
        return None
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if np.any(np.diff(x) <= 0):
        raise ValueError("xs must be strictly increasing")
    span = float(y.max() - y.min())
    scale = max(float(np.abs(y).max()), 1e-12)
    if span / scale <= flat_tolerance or y[-1] <= y[0]:
        return None
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y.min()) / span
    chord = yn[0] + (yn[-1] - yn[0]) * xn
    distance = chord - yn
    index = int(np.argmax(distance))
    if float(distance[index]) < min_distance:
        return None
    return index


def _field(step: Step, name: str) -> float:
    value = step[name] if isinstance(step, Mapping) else getattr(step, name)
    return float(value)


def degradation_analysis(
    steps: Sequence[Step],
    *,
    p99_threshold_ms: float = 1000.0,
    max_error_rate: float = 0.01,
    plateau_tolerance: float = 0.05,
) -> dict[str, Any]:
    """Summarise how a service degrades across load steps (JSON-serialisable dict).

    Fields: ``knee_index``/``knee_users`` (Kneedle on p99 vs users; None when no bend),
    ``saturation_throughput_rps`` (max achieved), ``saturation_users`` (where it was
    reached), ``plateau_users`` (first step within ``plateau_tolerance`` of that max, i.e.
    where adding users stopped buying throughput), ``error_rates`` per step,
    ``p50_cv`` (coefficient of variation of p50 across steps: how stable the median stays),
    ``p99_p50_ratio`` per step (tail spread; None where p50 is 0), and ``first_breach``
    (first step whose p99 exceeds the threshold or whose error rate exceeds the limit).
    """
    if not steps:
        return {
            "steps": 0, "knee_index": None, "knee_users": None, "saturation_throughput_rps": None,
            "saturation_users": None, "plateau_users": None, "error_rates": [], "p50_cv": None,
            "p99_p50_ratio": [], "first_breach": None,
        }
    users = [_field(s, "users") for s in steps]
    thr = [_field(s, "throughput_rps") for s in steps]
    p50 = [_field(s, "p50_ms") for s in steps]
    p99 = [_field(s, "p99_ms") for s in steps]
    err = [_field(s, "error_rate") for s in steps]

    knee = knee_point(users, p99) if _strictly_increasing(users) else None
    best = int(np.argmax(thr))
    plateau = next(i for i, t in enumerate(thr) if t >= (1.0 - plateau_tolerance) * thr[best])
    mean_p50 = float(np.mean(p50))
    p50_cv = float(np.std(p50)) / mean_p50 if mean_p50 > 0 else None

    breach: dict[str, Any] | None = None
    for i, (u, tail, rate) in enumerate(zip(users, p99, err, strict=True)):
        reasons = []
        if tail > p99_threshold_ms:
            reasons.append(f"p99 {tail:.1f} ms > {p99_threshold_ms:g} ms")
        if rate > max_error_rate:
            reasons.append(f"error rate {rate:.2%} > {max_error_rate:.2%}")
        if reasons:
            breach = {"index": i, "users": _num(u), "reason": "; ".join(reasons)}
            break

    return {
        "steps": len(steps),
        "knee_index": knee,
        "knee_users": _num(users[knee]) if knee is not None else None,
        "saturation_throughput_rps": thr[best],
        "saturation_users": _num(users[best]),
        "plateau_users": _num(users[plateau]),
        "error_rates": err,
        "p50_cv": p50_cv,
        "p99_p50_ratio": [t / m if m > 0 else None for t, m in zip(p99, p50, strict=True)],
        "first_breach": breach,
    }


def breach_text(breach: dict[str, Any] | None) -> str:
    """``first_breach`` in words: ``"at 50 users: p99 1200.0 ms > 1000 ms"``, or ``"no target
    breached"`` for None."""
    if not breach:
        return "no target breached"
    return f"at {breach.get('users')} users: {breach.get('reason')}"


def _strictly_increasing(xs: Sequence[float]) -> bool:
    return all(b > a for a, b in zip(xs, xs[1:], strict=False))


def _num(value: float) -> float | int:
    """Users are counts: show 25 rather than 25.0 in reports."""
    return int(value) if float(value).is_integer() else value


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0 (no fake infinities)."""
    if denominator == 0 or math.isnan(denominator):
        return None
    return numerator / denominator


def reduction(before: float, after: float) -> float | None:
    """Fraction saved going from ``before`` to ``after`` (0.7 = 70 % less); None if before is 0."""
    r = ratio(after, before)
    return None if r is None else 1.0 - r


def speedup(before_ms: float, after_ms: float) -> float | None:
    """How many times faster ``after`` is (2.0 = twice as fast); None if after is 0."""
    return ratio(before_ms, after_ms)


def compare(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per shared numeric key: both values, ``ratio`` (candidate/baseline), ``change`` (relative).

    Used for before/after strategy tables, where a metric missing (or not a number) on one
    side must simply be left out rather than guessed.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, base in baseline.items():
        if key not in candidate or not _is_number(base) or not _is_number(candidate[key]):
            continue
        cand = float(candidate[key])
        r = ratio(cand, float(base))
        out[key] = {
            "baseline": float(base),
            "candidate": cand,
            "ratio": r,
            "change": None if r is None else r - 1.0,
        }
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
