"""``build_report_data`` assembles the report from stored rows only (SQLite file, no Redis)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _fixtures import BUNDLED, bundled_selector

from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.measure.analysis import degradation_analysis
from agentload.measure.evaluation import LAYOUTS
from agentload.measure.report.collect import build_report_data, write_report
from agentload.measure.report.data import PLOT_IDS
from agentload.measure.resources import ResourceSampler
from agentload.selection.engine import Selector
from agentload.settings import Settings
from models import migrate, repository

STEPS = [{"users": u, "rate": u * 10.0, "throughput_rps": t, "p50_ms": p50, "p90_ms": p50 * 2, "p99_ms": p99,
          "error_rate": 0.0} for u, t, p50, p99 in ((1, 10, 2.0, 5.0), (10, 100, 2.5, 8.0), (50, 480, 4.0, 40.0))]


def run(db: str, kind: str, status: str, results: dict[str, Any], resources: dict[str, Any] | None = None) -> str:
    bid = repository.create_benchmark(db, f"{kind} run", kind)
    repository.update_benchmark(db, bid, status=status, results=results, resource_utilization=resources)
    return bid


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def settings() -> Settings:
    return Settings(env="test", catalog_path=BUNDLED)


@pytest.fixture
def stored(db: str) -> dict[str, str]:
    with ResourceSampler({"self": os.getpid()}, interval_s=0.05) as sampler:
        time.sleep(0.2)
    steps = {"steps": STEPS, "degradation": degradation_analysis(STEPS)}
    ids = {"steps": run(db, "scalability", "complete", steps, sampler.report().model_dump(mode="json"))}
    run(db, "stress", "incomplete", {"steps": STEPS[:1], "degradation": degradation_analysis(STEPS[:1])})
    strategies = [{"strategy": "full", "tokens_per_request": 5504.0, "p50_ms": 3.0, "p99_ms": 7.0,
                   "cpu_ms_per_request": 1.2, "bytes_per_request": 2066.0, "cpu_source": "api"},
                  {"strategy": "selective", "tokens_per_request": 860.0, "p50_ms": 2.9, "p99_ms": 6.5,
                   "cpu_ms_per_request": 1.3, "bytes_per_request": 2300.0, "cpu_source": "api"}]
    ids["benchmark"] = run(db, "benchmark", "complete", {"strategies": strategies, "workload": 170})
    repository.insert_agent_loading_metrics(db, [
        {"strategy": "selective", "agents_loaded": ["pm"], "loaded_tokens": 900, "manifest_tokens": 100,
         "baseline_tokens": 5000},
        {"strategy": "cached", "agents_loaded": ["dev"], "loaded_tokens": 400, "manifest_tokens": 100,
         "baseline_tokens": 5000},
        {"strategy": "full", "agents_loaded": ["pm", "dev"], "loaded_tokens": 5000, "baseline_tokens": 5000}])
    repository.insert_token_optimization(db, [  # served selections (delivered tokens)
        {"strategy": "selective", "context_hash": "k1", "baseline_tokens": 5000, "optimized_tokens": 1000},
        {"strategy": "cached", "context_hash": "k2", "baseline_tokens": 5000, "optimized_tokens": 500},
        {"strategy": "full", "context_hash": "k3", "baseline_tokens": 5000, "optimized_tokens": 5000}])
    repository.insert_token_optimization(db, [  # journey accounting: two steps, two strategies each
        {"strategy": f"journey:{s}", "context_hash": f"journey:bmm:method:greenfield:{i:03d}:{w}",
         "baseline_tokens": 400_000, "optimized_tokens": n}
        for i, w, s, n in ((0, "prd", "agents", 900), (0, "prd", "progressive", 3500),
                           (1, "architecture", "agents", 1100), (1, "architecture", "progressive", 4200))])
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    repository.insert_cache_performance(db, [
        {"cache_type": "selections", "hits": 90, "misses": 10, "recorded_at": t0},
        {"cache_type": "selections", "hits": 0, "misses": 0, "recorded_at": t0 + timedelta(seconds=15)},
        {"cache_type": "selections", "hits": 99, "misses": 1, "recorded_at": t0 + timedelta(seconds=30)},
        {"cache_type": "agent_definitions", "hits": 5, "misses": 5, "recorded_at": t0}])
    return ids


def test_given_stored_runs_when_building_then_each_section_comes_from_its_source(
    db: str, stored: dict[str, str], settings: Settings,
) -> None:
    data = build_report_data(db, None, None, settings=settings)
    assert [s.users for s in data.steps] == [1, 10, 50]  # the complete step run beats the newer incomplete one
    assert data.degradation == degradation_analysis(STEPS)
    assert data.resources is not None and "self" in data.resources.summary and data.resources.samples
    assert sorted(data.token_reductions) == pytest.approx([0.8, 0.9])  # "full" is the baseline itself
    assert [(p.t, p.hit_rate, p.hits, p.misses) for p in data.cache_hit_rate] == [(0.0, 0.9, 90, 10),
                                                                                   (30.0, 0.99, 99, 1)]
    assert data.headline["cache hit rate (selections)"] == "94.5% (189 hits, 11 misses)"
    assert [r.strategy for r in data.strategies] == ["full", "selective"]
    assert data.selection_quality == []
    assert [(j.step, j.workflow, j.agents, j.progressive, j.everything) for j in data.journey] == [
        (0, "prd", 900, 3500, 400_000), (1, "architecture", 1100, 4200, 400_000)]
    assert "5,504 -> 860" in str(data.headline["tokens per request: full -> selective"])
    assert data.headline["served tokens saved (selective)"] == "80.0% over 1 selections"
    assert any(stored["steps"] in note for note in data.notes)


def test_given_an_empty_database_when_building_then_every_section_is_empty_not_an_error(
    db: str, settings: Settings,
) -> None:
    data = build_report_data(db, None, None, settings=settings)
    assert (data.steps, data.resources, data.strategies, data.cache_hit_rate) == ([], None, [], [])


def test_given_a_scenario_file_when_building_then_its_quality_is_evaluated(
    db: str, settings: Settings, tmp_path: Path,
) -> None:
    selector = bundled_selector()
    lines = [{"id": w, "context": {"next_workflow": w}, "required_agents": selector.select(
        Context(next_workflow=w)).agent_ids} for w in ("prd", "create-architecture")]
    suite = tmp_path / "tiny-suite.jsonl"
    suite.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    data = build_report_data(db, None, [suite], settings=settings)
    assert [(q.suite, q.cases, q.metrics["recall"]) for q in data.selection_quality] == [("tiny-suite", 2, 1.0)]


def test_given_a_suite_written_for_a_bundled_tree_when_building_then_it_is_evaluated_on_that_tree(
    db: str, settings: Settings, tmp_path: Path,
) -> None:
    tree = sorted(p for p in LAYOUTS.glob("*-installed") if p.is_dir())[0]
    own = Selector(load_catalog(tree))
    requests = ["validate the backlog and the stories before the sprint", "design the screens of the app",
                "who should I talk to first?"]
    lines = [{"id": f"s{i}", "catalog": tree.name, "context": {"request": text},
              "required_agents": own.select(Context(request=text)).agent_ids} for i, text in enumerate(requests)]
    assert {a for line in lines for a in line["required_agents"]} - set(bundled_selector().catalog.agents)
    suite = tmp_path / "tree-suite.jsonl"
    suite.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    data = build_report_data(db, None, [suite], settings=settings)

    assert [(q.suite, q.metrics["recall"]) for q in data.selection_quality] == [("tree-suite", 1.0)]


def test_given_stored_runs_when_writing_the_report_then_the_plots_are_in_the_html(
    db: str, stored: dict[str, str], settings: Settings, tmp_path: Path,
) -> None:
    html = write_report(tmp_path / "out" / "report.html", db, None, None, settings=settings).read_text()
    assert all(f'id="{pid}"' in html for pid in PLOT_IDS.values())
    assert stored["benchmark"] in html
