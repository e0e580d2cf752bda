"""The demo's closing summary says what the load test found in words, never a raw ``None`` or dict."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from agentload.measure import demo
from agentload.measure.analysis import degradation_analysis


def _load_test_row(load_test: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(demo, "console", Console(width=400))  # one line per row
    with demo.console.capture() as captured:
        demo.print_summary({"catalog_version": "v1", "load_test": load_test, "report": "r.html"})
    row = next(line for line in captured.get().splitlines() if "load test" in line)
    return " ".join(row.replace("│", " ").split())


STEPS = [{"users": u, "throughput_rps": 10.0 * u, "p50_ms": 2.0, "p99_ms": p99, "error_rate": 0.0}
         for u, p99 in ((1, 5.0), (10, 8.0), (50, 1200.0))]


@pytest.mark.parametrize(("threshold", "said"), [
    (2000.0, "no latency or error target breached"),
    (1000.0, "first target breach at 50 users: p99 1200.0 ms > 1000 ms"),
])
def test_given_a_load_test_when_summarising_then_the_first_breach_is_said_in_words(
    threshold: float, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _load_test_row({"degradation": degradation_analysis(STEPS, p99_threshold_ms=threshold)}, monkeypatch)
    assert said in text
    assert "None" not in text and "{" not in text and "'index'" not in text


def test_given_the_bundled_layouts_when_the_demo_evaluates_suites_then_it_finds_them() -> None:
    """Each suite is evaluated on the layout it names; a wrong folder would evaluate all on the default catalog."""
    assert demo.LAYOUTS.is_dir() and any(tree.is_dir() for tree in demo.LAYOUTS.iterdir())
