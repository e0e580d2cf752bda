"""Optimisation as a job: warm what is in use, tune the free-text rule, record before/after.

1. Warm: the contexts statistics show in use (projects' stored workflow states, the most
   frequent transitions of the prediction model) get their selections, and each project's
   likely next steps, computed into the live version, so their next request is a hit.
   Recent selection events only carry a context *hash*, which cannot be recomputed; they are
   used to measure how many hot keys the live version holds.
2. Tune: a grid over ``text_close_ratio`` x ``text_min_score`` on the labelled cases in the
   params (the caller brings them; product code names no suite) picks the largest median
   token reduction whose recall stays >= the target. Ties go to the larger mean reduction,
   then to the current values: a change must buy something.
3. Apply: the values are stored in Redis (``keys.SELECTION_CONFIG``, read by every selector
   builder through ``tuning.tuned_settings``) with a new ``optimization_version``, and the
   catalog is republished so the live version is built with them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import redis
from pydantic import ValidationError

from agentload import keys
from agentload.catalog import Catalog
from agentload.context import Context, Resolved
from agentload.jobs.runtime import STATE, redis_client, selector_for_current
from agentload.jobs.tuning import load_tuned, store_tuned, tuned_settings
from agentload.measure.evaluation import evaluate_one, summarize
from agentload.measure.jobs import support
from agentload.measure.jobs.support import Progress
from agentload.measure.params import OptimizeParams
from agentload.publish.predict import warm_for_project
from agentload.publish.publish import store_selection
from agentload.publish.state import selection_config
from agentload.reader.codec import loads, text
from agentload.selection.engine import SelectionConfig, Selector
from agentload.settings import Settings, get_settings
from models import repository

DEFAULT_CLOSE_RATIOS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.72, 0.75, 0.8, 0.85, 0.9, 0.95)
DEFAULT_MIN_SCORES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
HOT_EVENTS = 1000  # newest pending events examined for hot keys
QUALITY = ("recall", "median_reduction", "mean_reduction", "mean_agents")


# ------------------------------------------------------------------ tuning (pure)


def evaluate_config(catalog: Catalog, config: SelectionConfig, cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Recall and token reduction of one configuration on labelled cases (``evaluation`` rules)."""
    selector = Selector(catalog, config)
    summary = summarize(evaluate_one(selector, case) for case in cases)
    return {"text_close_ratio": config.text_close_ratio, "text_min_score": config.text_min_score,
            "scenarios": summary.get("scenarios", 0), "recall": summary.get("recall"),
            "median_reduction": summary.get("median_reduction"), "mean_reduction": summary.get("mean_reduction"),
            "mean_agents": summary.get("mean_agents"), "missed": summary.get("missed", [])}


def grid(base: SelectionConfig, ratios: Sequence[float], scores: Sequence[float]) -> list[SelectionConfig]:
    """Every (ratio, min score) pair over ``base``, the current values always included."""
    rs = sorted({*ratios, base.text_close_ratio})
    ss = sorted({*scores, base.text_min_score})
    return [dataclasses.replace(base, text_close_ratio=r, text_min_score=s) for r in rs for s in ss]


def choose(points: Sequence[dict[str, Any]], target: float, current: tuple[float, float]) -> dict[str, Any] | None:
    """The best point with recall >= ``target``, or None when no point reaches it.

    Best = largest median reduction; ties: larger mean reduction, then the current values,
    then the smallest move from them (a change must buy something to be made).
    """
    eligible = [p for p in points if p["recall"] is not None and p["recall"] >= target - 1e-12]
    if not eligible:
        return None

    def rank(p: dict[str, Any]) -> tuple[float, float, bool, float]:
        here = (p["text_close_ratio"], p["text_min_score"]) == current
        move = abs(p["text_close_ratio"] - current[0]) + abs(p["text_min_score"] - current[1]) / 10
        return (p["median_reduction"] or 0.0, p["mean_reduction"] or 0.0, here, -move)

    return max(eligible, key=rank)


def tune(catalog: Catalog, base: SelectionConfig, cases: Sequence[dict[str, Any]], p: OptimizeParams,
         tick: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Grid search; returns before (current values), after (chosen) and every point."""
    configs = grid(base, p.close_ratios or DEFAULT_CLOSE_RATIOS, p.min_scores or DEFAULT_MIN_SCORES)
    points = []
    for i, config in enumerate(configs):
        points.append(evaluate_config(catalog, config, cases))
        if tick is not None:
            tick(i + 1, len(configs))
    current = (base.text_close_ratio, base.text_min_score)
    before = next(pt for pt in points if (pt["text_close_ratio"], pt["text_min_score"]) == current)
    chosen = choose(points, p.recall_target, current)
    return {"recall_target": p.recall_target, "before": before, "after": chosen or before,
            "reached_target": chosen is not None, "changed": chosen is not None and chosen is not before,
            "grid": [{k: v for k, v in pt.items() if k != "missed"} for pt in points]}


# ------------------------------------------------------------------ warming (Redis)


def in_use_contexts(r: redis.Redis, limit: int) -> list[tuple[str | None, Context]]:
    """(project id or None, context) for stored project states and the top transitions."""
    out: list[tuple[str | None, Context]] = []
    state_keys = [text(k) or "" for _, k in zip(range(limit), r.scan_iter(match=keys.workflow_state_key("*"),
                                                                          count=500), strict=False)]
    prefix, suffix = keys.workflow_state_key("\0").split("\0")
    for key, raw in zip(state_keys, r.mget(state_keys) if state_keys else [], strict=True):
        state = loads(raw) if raw else None
        if not isinstance(state, dict):
            continue
        fields = {k: v for k, v in state.items() if k in Context.model_fields and v not in (None, [])}
        try:
            out.append((key[len(prefix):len(key) - len(suffix)], Context.model_validate(fields)))
        except ValidationError:
            continue
    counts = sorted(((int(n), text(f) or "") for f, n in r.hgetall(keys.TRANSITIONS).items()), reverse=True)
    for _, pair in counts[: max(0, limit - len(out))]:
        before, _, after = pair.partition("|")
        if before and after:
            out.append((None, Context(next_workflow=after, workflow_history=[before])))
    return out


def warm(r: redis.Redis, version: str, selector: Selector, ttl_s: int, limit: int) -> dict[str, Any]:
    """Compute what in-use contexts (and projects' next steps) lack; coverage before/after."""
    contexts = in_use_contexts(r, limit)
    resolved: dict[str, Resolved] = {}
    for _, ctx in contexts:
        res = selector.resolve(ctx)
        if not res.unknown:
            resolved.setdefault(res.key(), res)
    pipe = r.pipeline(transaction=False)
    for key in resolved:
        pipe.exists(keys.selection_key(version, key))
    present = sum(int(bool(x)) for x in pipe.execute()) if resolved else 0
    warmed = 0
    for key, res in resolved.items():
        if not r.exists(keys.selection_key(version, key)):
            warmed += int(store_selection(r, version, selector.select_resolved(res), ttl_s))
    next_steps = sum(warm_for_project(r, selector, version, ctx, ttl_s=ttl_s)["warmed"]
                     for pid, ctx in contexts if pid is not None)
    hot = {str(e["context_hash"]) for e in (loads(x) for x in r.lrange(keys.SELECTION_EVENTS, -HOT_EVENTS, -1))
           if isinstance(e, dict) and e.get("context_hash")}
    pipe = r.pipeline(transaction=False)
    for key in hot:
        pipe.exists(keys.selection_key(version, str(key)))
    hot_present = sum(int(bool(x)) for x in pipe.execute()) if hot else 0
    n = len(resolved)
    return {"contexts": n, "projects": sum(1 for pid, _ in contexts if pid), "present_before": present,
            "warmed": warmed, "next_steps_warmed": next_steps,
            "coverage_before": present / n if n else None, "coverage_after": (present + warmed) / n if n else None,
            "hot_keys": len(hot), "hot_keys_present": hot_present}


# ------------------------------------------------------------------ the job


def next_optimization_version(db: str, r: redis.Redis) -> int:
    """One more than any version stored in SQL or Redis."""
    runs = repository.list_benchmarks(db, kind="optimize", limit=1000)
    stored = (load_tuned(r) or {}).get("optimization_version") or 0
    return max([int(stored), *[int(run["optimization_version"] or 0) for run in runs]]) + 1


def _metric_rows(results: dict[str, Any], bid: str, version: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: Any, unit: str, labels: dict[str, Any]) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            rows.append({"category": "optimization", "metric_name": name, "metric_value": float(value), "unit": unit,
                         "benchmark_id": bid, "labels": {"optimization_version": version, **labels}})

    tuning = results.get("tuning")
    if tuning:
        for phase in ("before", "after"):
            pt = tuning[phase]
            labels = {"phase": phase, "text_close_ratio": pt["text_close_ratio"],
                      "text_min_score": pt["text_min_score"], "scenarios": pt["scenarios"]}
            for name in QUALITY:
                add(name, pt[name], "agents" if name == "mean_agents" else "ratio", labels)
    w = results.get("warm")
    if w:
        add("in_use_coverage", w["coverage_before"], "ratio", {"phase": "before"})
        add("in_use_coverage", w["coverage_after"], "ratio", {"phase": "after"})
        add("hot_key_coverage", w["hot_keys_present"] / w["hot_keys"] if w["hot_keys"] else None, "ratio", {})
    return rows


def run_optimize(params: dict[str, Any], progress: Progress, *, settings: Settings | None = None) -> dict[str, Any]:
    """Warm, tune, apply and store; returns the id, version and before/after figures."""
    base_settings = settings or get_settings()
    p = OptimizeParams.model_validate(params)
    r, db = redis_client(base_settings), base_settings.database_url
    settings = tuned_settings(r, base_settings)
    version, selector = selector_for_current(r, settings, STATE)
    opt_version = next_optimization_version(db, r)
    job_id = support.new_job_id(p.job_id)
    parameters = {**p.model_dump(mode="json", exclude={"scenarios"}), "scenarios": len(p.scenarios), "job_id": job_id}
    bid = repository.create_benchmark(db, p.name or f"optimize v{opt_version}", "optimize", parameters=parameters,
                                      optimization_version=opt_version)
    cancel = support.CancelWatcher(r, job_id)
    results: dict[str, Any] = {"optimization_version": opt_version, "catalog_version": version, "notes": []}
    status = "complete"
    try:
        if p.warm:
            progress({"stage": "warm", "done": 0, "total": 1, "benchmark_id": bid})
            results["warm"] = warm(r, version, selector, settings.version_ttl_s, p.max_warm)
        if p.scenarios:
            cases = [s.model_dump(mode="json") for s in p.scenarios]

            def tick(done: int, total: int) -> None:
                cancel.raise_if_set()
                progress({"stage": "tune", "done": done, "total": total, "benchmark_id": bid})

            results["tuning"] = tune(selector.catalog, selection_config(settings), cases, p, tick)
            results["applied"] = _apply(r, p, results["tuning"], opt_version) if p.apply else None
    except support.Cancelled:
        status = "incomplete"
        results["notes"].append("cancelled on request: nothing applied")
    except BaseException as exc:
        support.close_run(db, bid, exc, results=results, resources=None)
        raise
    repository.update_benchmark(db, bid, status=status, results=results,
                                error=None if status == "complete" else "cancelled on request")
    repository.insert_performance_metrics(db, _metric_rows(results, bid, opt_version))
    progress({"stage": "stored", "done": 1, "total": 1, "benchmark_id": bid})
    return {"benchmark_id": bid, "status": status, **results,
            "tuning": {k: v for k, v in (results.get("tuning") or {}).items() if k != "grid"} or None}


def _apply(r: redis.Redis, p: OptimizeParams, tuning: dict[str, Any], opt_version: int) -> dict[str, Any] | None:
    """Store the chosen values and republish, when they differ from what is live."""
    if not tuning["changed"]:
        return None
    after = tuning["after"]
    values = {"text_close_ratio": float(after["text_close_ratio"]), "text_min_score": float(after["text_min_score"])}
    evidence = {k: after[k] for k in QUALITY} | {"recall_target": p.recall_target, "scenarios": after["scenarios"]}
    stored = store_tuned(r, values, optimization_version=opt_version, evidence=evidence)
    from agentload.jobs.catalog import preload_catalog  # publishes with tuned_settings applied

    published = preload_catalog(full=True)
    return {"stored": stored, "published": {k: published.get(k) for k in ("version", "published", "skipped")}}
