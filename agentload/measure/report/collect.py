"""Build the HTML report's ``ReportData`` from what is stored: SQL runs and metrics, optionally Redis.

Every section comes from a stored measurement, never from a fresh one, so a report can be
regenerated at any time and says what was measured when. Sources:

* scalability: the newest step test or stress ramp (else the newest single load run) and its
  degradation analysis; resources: that run's samples;
* token reductions: the newest served selections (``agent_loading_metrics``; strategy
  ``full`` left out, being the baseline itself) and the savings ledger per strategy;
* cache hit rate: the ``selections`` snapshots of ``cache_performance`` over time;
* strategies: the newest benchmark run;
* selection quality: scenario files given by the caller, evaluated with the selector as
  configured (plus any tuned values from Redis).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from agentload.catalog import load_catalog
from agentload.jobs.tuning import tuned_settings
from agentload.measure.evaluation import LAYOUTS, evaluate_one, read_scenarios, suite_catalog, summarize
from agentload.measure.report.data import CachePoint, JourneyStep, QualityRow, ReportData, StepPoint, StrategyRow
from agentload.measure.report.html import render_report
from agentload.measure.resources import ResourceReport
from agentload.publish.state import selection_config
from agentload.selection.engine import Selector
from agentload.settings import Settings, get_settings
from models import repository

log = logging.getLogger(__name__)
STEP_KINDS = ("scalability", "stress")
RECENT = 1000
QUALITY_METRICS = ("recall", "median_reduction", "mean_reduction", "p10_reduction", "mean_agents")


def _newest(db: str, kinds: tuple[str, ...], *, need: str) -> dict[str, Any] | None:
    """The newest complete run of any of ``kinds`` whose results hold ``need``; failing that,
    the newest incomplete one (a cancelled run's partial curve beats no curve)."""
    runs = [run for kind in kinds for run in repository.list_benchmarks(db, kind=kind, limit=20)
            if run["status"] in ("complete", "incomplete") and (run.get("results") or {}).get(need)]
    return max(runs, key=lambda run: (run["status"] == "complete", run["started_at"])) if runs else None


def scalability_section(db: str) -> tuple[dict[str, Any] | None, list[StepPoint], dict[str, Any] | None]:
    """(run, steps, degradation) of the newest step/stress run, else the newest load run."""
    run = _newest(db, STEP_KINDS, need="steps") or _newest(db, ("load_test",), need="steps")
    if run is None:
        return None, [], None
    results = run["results"]
    steps = [StepPoint.model_validate(s) for s in results["steps"]]
    return run, steps, results.get("degradation")


def resources_section(run: dict[str, Any] | None) -> ResourceReport | None:
    raw = (run or {}).get("resource_utilization") or {}
    return ResourceReport.model_validate(raw) if raw.get("samples") else None


def token_section(db: str) -> list[float]:
    """Per served selection: the fraction of the full answer's delivered tokens it saved (0..1),
    from ``token_optimization`` (journey and benchmark rows left out)."""
    rows = repository.recent_token_optimization(db, limit=RECENT, exclude_prefixes=("journey:", "benchmark:"))
    return [max(0.0, float(row["reduction"])) for row in rows
            if row["strategy"] != "full" and row["baseline_tokens"] and row["reduction"] is not None]


def cache_section(db: str) -> list[CachePoint]:
    """Hit rate of the selections cache per flush interval, seconds from the first snapshot."""
    rows = [r for r in repository.recent_cache_performance(db, limit=RECENT, cache_type="selections")
            if r["hits"] + r["misses"] > 0]
    rows.sort(key=lambda r: r["recorded_at"])
    if not rows:
        return []
    t0 = datetime.fromisoformat(rows[0]["recorded_at"])
    return [CachePoint(t=(datetime.fromisoformat(r["recorded_at"]) - t0).total_seconds(),
                       hit_rate=r["hits"] / (r["hits"] + r["misses"]), hits=r["hits"], misses=r["misses"])
            for r in rows]


def strategy_section(db: str) -> tuple[dict[str, Any] | None, list[StrategyRow]]:
    run = _newest(db, ("benchmark",), need="strategies")
    if run is None:
        return None, []
    return run, [StrategyRow.model_validate(row) for row in run["results"]["strategies"]]


def quality_section(scenarios: list[Path], settings: Settings, r: redis.Redis | None) -> list[QualityRow]:
    """Each scenario file evaluated with the configured (and tuned) selector, on the catalog it
    was written for (``evaluation.suite_catalog``: a bundled tree its lines name, else the
    configured catalog), as the demo's console table does."""
    if r is not None:
        try:
            settings = tuned_settings(r, settings)
        except redis.RedisError as exc:
            log.warning("tuned selection values unavailable (%s); using the settings", exc)
    selectors: dict[Path, Selector] = {}
    rows = []
    for path in scenarios:
        root = suite_catalog(path, LAYOUTS, Path(settings.catalog_path))
        if root not in selectors:
            catalog = load_catalog(root, max_file_bytes=settings.catalog_max_file_bytes)
            selectors[root] = Selector(catalog, selection_config(settings))
        selector = selectors[root]
        summary = summarize(evaluate_one(selector, case) for case in read_scenarios(path))
        metrics = {k: float(summary[k]) for k in QUALITY_METRICS if summary.get(k) is not None}
        rows.append(QualityRow(suite=path.stem, cases=int(summary.get("scenarios", 0)), metrics=metrics))
    return rows


def _headline(data: ReportData, db: str, bench: dict[str, Any] | None) -> dict[str, str | float | int]:
    head: dict[str, str | float | int] = {}
    by = {row.strategy: row for row in data.strategies}
    full, sel = by.get("full"), by.get("selective")
    if full and sel and full.tokens_per_request and sel.tokens_per_request is not None:
        head["tokens per request: full -> selective"] = (f"{full.tokens_per_request:,.0f} -> "
                                                         f"{sel.tokens_per_request:,.0f} "
                                                         f"({1 - sel.tokens_per_request / full.tokens_per_request:.1%}"
                                                         " fewer)")
    for name, row in by.items():
        if row.p99_ms is not None:
            head[f"p99 ms ({name}, benchmark)"] = round(row.p99_ms, 3)
    for entry in repository.token_usage_summary(db, group_by="strategy"):
        head[f"served tokens saved ({entry['key']})"] = (f"{entry['overall_reduction']:.1%} over "
                                                         f"{entry['count']} selections")
    hits, misses = (sum(p.hits or 0 for p in data.cache_hit_rate), sum(p.misses or 0 for p in data.cache_hit_rate))
    if hits + misses:
        head["cache hit rate (selections)"] = f"{hits / (hits + misses):.1%} ({hits:,} hits, {misses:,} misses)"
    deg = data.degradation or {}
    if deg.get("saturation_throughput_rps") is not None:
        head["max throughput (requests/s)"] = round(float(deg["saturation_throughput_rps"]), 1)
    if deg.get("knee_users") is not None:
        head["latency knee (users)"] = deg["knee_users"]
    for q in data.selection_quality:
        if "recall" in q.metrics:
            head[f"recall ({q.suite})"] = round(q.metrics["recall"], 4)
    if data.token_reductions:
        ordered = sorted(data.token_reductions)
        head["median token reduction (served)"] = f"{ordered[len(ordered) // 2]:.1%}"
    if bench is not None:
        head["benchmark run"] = f"{bench['id']} ({bench['status']}, {bench['started_at']})"
    return head


def journey_section(db: str, limit: int = 5000) -> list[JourneyStep]:
    """The newest journey accounting per step (``journey:<catalog>:<track>:<field>:<i>:<workflow>``
    rows of ``token_optimization``, written by ``agentload journey --tokens --store``)."""
    steps: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in repository.recent_token_optimization(db, limit=limit, context_prefix="journey:"):
        _, catalog, track, field, index, workflow = str(row["context_hash"]).split(":", 5)
        track, field = ("-" if v == "None" else v for v in (track, field))  # a tree without tracks (rows before 12-01)
        step = steps.setdefault((catalog, f"{track}/{field}", int(index)), {"workflow": workflow})
        strategy = str(row["strategy"]).removeprefix("journey:")
        if strategy not in step:  # newest first: keep the newest run's figure
            step[strategy] = row["optimized_tokens"]
            step["everything"] = step.get("everything", row["baseline_tokens"])
    return [JourneyStep(catalog=c, track=t, step=i, **v) for (c, t, i), v in sorted(steps.items())
            if {"agents", "progressive"} <= v.keys()]


def build_report_data(db_url: str, redis_client: redis.Redis | None = None, scenarios: list[Path] | None = None,
                      *, settings: Settings | None = None) -> ReportData:
    """Everything the report shows, from the database (and Redis for tuned values), as ``ReportData``."""
    settings = settings or get_settings()
    notes: list[str] = []
    run, steps, degradation = scalability_section(db_url)
    if run is not None:
        notes.append(f"Scalability and resources: {run['kind']} run {run['id']} ({run['status']}) "
                     f"started {run['started_at']}.")
    bench, strategies = strategy_section(db_url)
    if bench is not None:
        cpu = {row.get("cpu_source") for row in bench["results"]["strategies"] if row.get("cpu_source")}
        notes.append(f"Strategies: benchmark {bench['id']} over {bench['results'].get('workload')} contexts; "
                     f"CPU per request measured on: {', '.join(sorted(cpu)) or 'nothing'}.")
    data = ReportData(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"), notes=notes, steps=steps,
        degradation=degradation, resources=resources_section(run), token_reductions=token_section(db_url),
        cache_hit_rate=cache_section(db_url), strategies=strategies,
        selection_quality=quality_section(scenarios, settings, redis_client) if scenarios else [],
        journey=journey_section(db_url),
    )
    return data.model_copy(update={"headline": _headline(data, db_url, bench)})


def write_report(out: Path, db_url: str | None = None, redis_client: redis.Redis | None = None,
                 scenarios: list[Path] | None = None, *, settings: Settings | None = None) -> Path:
    """Render the report from stored results into ``out`` (one offline HTML file); returns the path."""
    settings = settings or get_settings()
    data = build_report_data(db_url or settings.database_url, redis_client, scenarios, settings=settings)
    return render_report(data, out)
