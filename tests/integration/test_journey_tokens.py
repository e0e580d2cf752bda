"""Journey accounting on every layout: a whole BMad path walked through the real MCP tools.

Each catalog is published into a private Redis exactly as the preload does; every track is
walked step by step (the catalog's own order) and each strategy's delivered tokens are the
``delivered_tokens`` the server reports (the MCP test checks those against a cl100k count of
the bytes). What must hold: no step misses its agent, progressive loading (agent, work item,
the file the step starts with) delivers at most a tenth of loading everything, and the
figures land in ``token_optimization`` where the report reads them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentload.measure.journey_tokens import STRATEGIES, first_named_file, ledger_rows, measure_catalog
from agentload.measure.report.collect import journey_section
from agentload.measure.report.data import PLOT_IDS, TABLE_IDS, ReportData
from agentload.measure.report.html import build_html
from models import migrate, repository

DATA = Path(__file__).resolve().parents[2] / "data"
TREES = [DATA / "bmad-method-v6", *(DATA / "bmad-layouts" / n for n in
                                    ("v4.44.3-installed", "v6.0.4-installed", "v6.12.0-installed"))]


@pytest.mark.parametrize("root", TREES, ids=lambda p: p.name)
def test_given_a_catalog_when_every_track_is_walked_then_progressive_loading_delivers_a_tenth_and_misses_nothing(
    root: Path, tmp_path: Path
) -> None:
    result = asyncio.run(measure_catalog(root))
    assert result["tracks"] and result["everything_per_step"] > 0
    for track in result["tracks"]:
        steps = track["steps"]
        assert steps and track["recall"] == 1.0, [s["workflow"] for s in steps if not s["recalled"]]
        for step in steps:
            got = step["delivered"]
            assert 0 < got["agents"] <= got["progressive"] < got["everything"], step
        assert any(s["work_item"] for s in steps)
        assert track["totals"] == {s: sum(st["delivered"][s] for st in steps) for s in STRATEGIES}
        assert track["totals"]["progressive"] <= 0.1 * track["totals"]["everything"], track["totals"]
    assert any(s["file"] for t in result["tracks"] for s in t["steps"])  # level 3 reached somewhere

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)
    rows = ledger_rows(result)
    assert repository.insert_token_optimization(url, rows) == len(rows)
    stored = repository.recent_token_optimization(url, limit=len(rows) + 10, context_prefix="journey:")
    assert len(stored) == len(rows) and {r["strategy"] for r in stored} == {"journey:agents", "journey:progressive"}
    assert all(0.9 <= r["reduction"] < 1.0 for r in stored if r["strategy"] == "journey:progressive")

    # the report's journey section reads them back, one point per step
    steps = journey_section(url)
    assert len(steps) == sum(len(t["steps"]) for t in result["tracks"])
    assert not any("None" in s.track for s in steps)  # a tree without tracks shows "-/-", as the console does
    page = build_html(ReportData(journey=steps))
    assert PLOT_IDS["journey"] in page and TABLE_IDS["journey"] in page


def test_given_an_entry_file_when_choosing_the_step_in_use_then_the_first_file_it_names_is_chosen() -> None:
    files = [{"path": "w/steps/step-02-b.md"}, {"path": "w/steps/step-01-a.md"}, {"path": "w/template.md"}]
    text = "Start with `{installed_path}/steps/step-01-a.md`, then step-02-b.md; output uses template.md"
    assert first_named_file(text, files) == "w/steps/step-01-a.md"
    assert first_named_file("names none of them", files) == "w/steps/step-02-b.md"  # the item's own first
    assert first_named_file("anything", []) is None
