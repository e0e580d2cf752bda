"""The before/after benchmark: one workload under ``full``, ``selective`` and ``cached``, side by side.

Tokens per request come from the selections themselves (computed by this worker's selector
for the live version, the same code that precomputed what the API serves). Latency, bytes
and CPU per request come from the *real* read path: the load generator sends the workload
to the API at a modest fixed rate once per strategy, after switching the global runtime
strategy flag in Redis (restored afterwards, and a lock keeps two benchmarks from
interleaving). Every context of the workload is made servable first (a free-text one is
computed and stored like the worker does on a miss), so all three strategies answer the
same requests from Redis and differ only in what they serve.

CPU is sampled for the API process when its pid is given; otherwise for this worker process,
which then measures the *client's* cost per request (the results say which, ``cpu_source``).
The flag is global: run it on a quiet system, or every client sees each strategy in turn.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import redis

from agentload import keys
from agentload.context import Context
from agentload.jobs.runtime import STATE, redis_client, selector_for_current
from agentload.jobs.tuning import load_tuned, tuned_settings
from agentload.measure.analysis import compare
from agentload.measure.jobs import support
from agentload.measure.jobs.support import Progress
from agentload.measure.loadgen.results import LoadResult
from agentload.measure.loadgen.runner import run_load_sync
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
from agentload.measure.params import BenchmarkParams, benchmark_limit_errors, raise_for, target_url
from agentload.measure.resources import ResourceSampler
from agentload.publish.contexts import enumerate_contexts
from agentload.publish.publish import store_selection
from agentload.reader.codec import text
from agentload.selection.engine import Selector
from agentload.settings import Settings, get_settings
from models import repository

CATEGORY = {"full": "baseline", "selective": "optimization", "cached": "optimization"}
ROW_METRICS = (("tokens_per_request", "tokens"), ("p50_ms", "ms"), ("p99_ms", "ms"), ("throughput_rps", "requests/s"),
               ("error_rate", "ratio"), ("cpu_ms_per_request", "ms"), ("bytes_per_request", "bytes"))


def workload(selector: Selector, p: BenchmarkParams) -> list[dict[str, Any]]:
    """The contexts to run (query-ready dicts): given ones, or every distinct structured
    context of the catalog, plus the free-text requests."""
    contexts = list(p.contexts) if p.contexts else list(enumerate_contexts(selector.resolver))
    seen: dict[str, dict[str, Any]] = {}
    for ctx in contexts:
        body = ctx.model_dump(mode="json", exclude_defaults=True)
        if body:  # the empty context is the loader status, not a selection
            seen.setdefault(selector.resolve(ctx).key(), body)
    out = list(seen.values())
    out += [{"request": t} for t in p.requests]
    return out


def prepare_tokens(r: redis.Redis, version: str, selector: Selector, contexts: list[dict[str, Any]],
                   ttl_s: int) -> dict[str, Any]:
    """Token cost per strategy over the workload, storing any selection the API lacks."""
    full = selector.full_context  # what the client receives: delivered tokens (Selection)
    served, reductions, prepared, unknown = [], [], 0, 0
    selections = []
    for body in contexts:
        resolved = selector.resolve(Context.model_validate(body))
        if resolved.unknown:
            unknown += 1
            continue
        selections.append((body, selector.select_resolved(resolved)))
    pipe = r.pipeline(transaction=False)
    for _, sel in selections:
        pipe.exists(keys.selection_key(version, sel.key))
    for (body, sel), present in zip(selections, pipe.execute(), strict=True):
        if not present:
            prepared += int(store_selection(r, version, sel, ttl_s))
        served.append(body)
        reductions.append(sel.reduction)
    n = len(selections)
    selective = sum(s.context_tokens for _, s in selections) / n if n else 0.0
    return {"contexts": served, "unknown": unknown, "prepared": prepared, "reductions": reductions,
            "per_request": {"full": float(full), "selective": selective, "cached": selective},
            "baseline_total": full * n, "selective_total": sum(s.context_tokens for _, s in selections)}


def strategy_row(strategy: str, tokens: float, result: LoadResult | None, cpu_s: float | None,
                 cpu_source: str) -> dict[str, Any]:
    """The report's ``StrategyRow`` fields plus what they were computed from."""
    row: dict[str, Any] = {"strategy": strategy, "tokens_per_request": tokens}
    if result is None:
        return row
    done = result.completed
    row.update({"requests": done, "p50_ms": result.latency.p50, "p90_ms": result.latency.p90,
                "p99_ms": result.latency.p99, "throughput_rps": result.throughput_rps, "error_rate": result.error_rate,
                "errors": result.errors, "complete": result.complete,
                "bytes_per_request": result.bytes_received / done if done else None,
                "cpu_ms_per_request": cpu_s * 1000 / done if done and cpu_s is not None else None,
                "cpu_source": cpu_source})
    return row


def _api_up(base_url: str) -> str | None:
    try:
        httpx.get(f"{base_url}/healthz", timeout=2.0, trust_env=False)
    except httpx.HTTPError as exc:
        return f"API at {base_url} unreachable ({type(exc).__name__}); latency not measured"
    return None


def _measure(r: redis.Redis, p: BenchmarkParams, settings: Settings, spec: LoadSpec, contexts: list[dict[str, Any]],
             state: dict[str, Any], cancel: support.CancelWatcher, progress: Progress) -> None:
    """One load run per strategy with the flag switched; restores the flag whatever happens."""
    pids = {"api": p.api_pid} if p.api_pid else {"worker": os.getpid()}
    cpu_source = next(iter(pids))
    scenario = support.build_scenario("selection_reads", contexts, support.token_for(spec.base_url, settings))
    ttl = int(len(p.strategies) * (p.duration_s + p.warmup_s + 10) + 60)
    if not r.set(keys.BENCHMARK_LOCK, state["job_id"], nx=True, ex=ttl):
        raise RuntimeError("another benchmark is running (it holds the strategy flag); try again later")
    original = r.get(keys.STRATEGY)
    try:
        for i, strategy in enumerate(p.strategies):
            cancel.raise_if_set()
            r.set(keys.STRATEGY, strategy)

            def tick(elapsed: float, sent: int, done: int, errors: int, i: int = i, s: str = strategy) -> None:
                progress({"stage": f"latency:{s}", "done": i, "total": len(p.strategies),
                          "elapsed_s": round(elapsed, 2), "sent": sent, "completed": done, "errors": errors,
                          "benchmark_id": state["benchmark_id"]})

            sampler = ResourceSampler(pids, interval_s=0.25, redis_client=r).start()
            try:
                with support.deferred_interrupts(cancel), support.quiet_http_logs():
                    result = run_load_sync(spec, scenario, tick, cancel, allowed_base_url=settings.api_base_url)
            finally:
                report = sampler.stop()
            state["resources"][strategy] = report.model_dump(mode="json")
            tokens = state["tokens"]["per_request"][strategy]
            cpu = report.summary[cpu_source].cpu_seconds if report.summary[cpu_source].samples else None
            state["rows"][strategy] = strategy_row(strategy, tokens, result, cpu, cpu_source)
    finally:
        if original is None:
            r.delete(keys.STRATEGY)
        else:
            r.set(keys.STRATEGY, original)
        if text(r.get(keys.BENCHMARK_LOCK)) == state["job_id"]:
            r.delete(keys.BENCHMARK_LOCK)


def _results(state: dict[str, Any], p: BenchmarkParams) -> dict[str, Any]:
    rows = [state["rows"].get(s) or {"strategy": s, "tokens_per_request": state["tokens"]["per_request"][s]}
            for s in p.strategies] if state.get("tokens") else []
    by = {row["strategy"]: row for row in rows}
    numeric = {s: {k: v for k, v in row.items() if k not in ("strategy", "errors", "complete", "cpu_source")}
               for s, row in by.items()}
    comparison = {s: compare(numeric["full"], numeric[s]) for s in by if s != "full" and "full" in by}
    tokens = {k: v for k, v in (state.get("tokens") or {}).items() if k != "contexts"}
    return {"version": state.get("version"), "workload": state.get("workload", 0), "strategies": rows,
            "comparison": comparison, "tokens": tokens, "notes": state["notes"], "base_url": state["base_url"],
            "rate": p.rate, "users": p.users, "duration_s": p.duration_s}


def _store(db: str, benchmark_id: str, results: dict[str, Any], tuned_version: int | None) -> None:
    metrics: list[dict[str, Any]] = []
    for row in results["strategies"]:
        s = row["strategy"]
        for name, unit in ROW_METRICS:
            if row.get(name) is not None:
                metrics.append({"category": CATEGORY[s], "metric_name": name, "metric_value": float(row[name]),
                                "unit": unit, "strategy": s, "benchmark_id": benchmark_id,
                                "labels": {"kind": "benchmark", "workload": results["workload"]}})
    for s, fields in results["comparison"].items():
        for name, cmp in fields.items():
            if cmp["ratio"] is not None and name in dict(ROW_METRICS):
                metrics.append({"category": "benchmark", "metric_name": f"{name}_ratio_vs_full",
                                "metric_value": cmp["ratio"], "unit": "ratio", "strategy": s,
                                "benchmark_id": benchmark_id, "labels": {"baseline": "full"}})
    repository.insert_performance_metrics(db, metrics)
    tokens = results["tokens"]
    n = len(tokens.get("reductions", []))
    if n:
        per = tokens["per_request"]
        repository.insert_token_optimization(db, [
            {"strategy": s, "context_hash": f"benchmark:{benchmark_id}", "baseline_tokens": round(per["full"] * n),
             "optimized_tokens": round(per[s] * n), "optimization_version": tuned_version}
            for s in (row["strategy"] for row in results["strategies"])])


def run_benchmark(params: dict[str, Any], progress: Progress, *, settings: Settings | None = None) -> dict[str, Any]:
    """Run and store the strategy comparison; returns the id, status and the side-by-side rows."""
    settings = settings or get_settings()
    p = BenchmarkParams.model_validate(params)
    limits = LoadLimits.from_settings(settings)
    raise_for(benchmark_limit_errors(p, limits, settings))
    base_url = target_url(p.base_url, settings)
    r, db = redis_client(settings), settings.database_url
    version, selector = selector_for_current(r, tuned_settings(r, settings), STATE)
    contexts = workload(selector, p)
    tuned = (load_tuned(r) or {}).get("optimization_version")
    state: dict[str, Any] = {"job_id": support.new_job_id(p.job_id), "version": version, "rows": {},
                             "resources": {}, "notes": [], "base_url": base_url, "workload": len(contexts)}
    support.mark_abandoned(db, settings)
    parameters = {**p.model_dump(mode="json", exclude={"contexts"}), "job_id": state["job_id"],
                  "base_url": base_url, "workload": len(contexts)}
    state["benchmark_id"] = bid = repository.create_benchmark(db, p.name or "strategy benchmark", "benchmark",
                                                              parameters=parameters, optimization_version=tuned)
    cancel = support.CancelWatcher(r, state["job_id"]).start()
    try:
        progress({"stage": "tokens", "done": 0, "total": len(contexts), "benchmark_id": bid})
        state["tokens"] = prepare_tokens(r, version, selector, contexts, settings.version_ttl_s)
        progress({"stage": "tokens", "done": len(contexts), "total": len(contexts), "benchmark_id": bid})
        down = _api_up(base_url)
        if down:
            state["notes"].append(down)
        elif state["tokens"]["contexts"]:
            spec = LoadSpec.with_limits(limits, base_url=base_url, users=p.users, rate=p.rate, duration_s=p.duration_s,
                                        warmup_s=p.warmup_s, scenario="selection_reads")
            _measure(r, p, settings, spec, state["tokens"]["contexts"], state, cancel, progress)
    except support.Cancelled:
        state["notes"].append("cancelled on request")
    except BaseException as exc:
        cancel.stop()
        support.close_run(db, bid, exc, results=_results(state, p), resources=state["resources"])
        raise
    cancel.stop()
    results = _results(state, p)
    measured = [row for row in results["strategies"] if "p50_ms" in row]
    complete = len(measured) == len(p.strategies) and all(row["complete"] for row in measured)
    status = "complete" if complete else "incomplete"
    repository.update_benchmark(db, bid, status=status, results=results, resource_utilization=state["resources"],
                                error=None if complete else "; ".join(state["notes"]) or "stopped early")
    _store(db, bid, results, tuned)
    progress({"stage": "stored", "done": len(p.strategies), "total": len(p.strategies), "benchmark_id": bid})
    return {"benchmark_id": bid, "job_id": state["job_id"], "status": status, "strategies": results["strategies"],
            "comparison": results["comparison"], "notes": results["notes"], "workload": len(contexts)}
