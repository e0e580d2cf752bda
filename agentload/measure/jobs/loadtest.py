"""Load tests as a job: one run, a step test or a stress ramp, stored with resources and analysis.

The run record is created (``running``) before the first request so that a crash leaves
evidence; it ends ``complete``, ``incomplete`` (cancelled, time limit, terminated: with the
steps measured so far) or ``failed``. Load goes only to loopback or the configured API
(``check_target``), within the operator's ``LoadLimits``. Contexts come from the published
catalog, CPU/memory of the given processes and Redis INFO are sampled every 250 ms, and each
step's headline numbers also become ``performance_metrics`` rows for queries over time.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from agentload.jobs.runtime import redis_client
from agentload.measure.analysis import degradation_analysis
from agentload.measure.jobs import support
from agentload.measure.jobs.support import Progress
from agentload.measure.loadgen.results import StepResult
from agentload.measure.loadgen.runner import run_load
from agentload.measure.loadgen.scenarios import Scenario
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
from agentload.measure.loadgen.steps import step_test, stress_ramp
from agentload.measure.params import KIND_BY_MODE, LoadTestParams, load_limit_errors, raise_for, target_url
from agentload.measure.resources import ResourceReport, ResourceSampler
from agentload.settings import Settings, get_settings
from models import repository

SAMPLE_INTERVAL_S = 0.25
STEP_METRICS = (("p50_ms", "ms"), ("p90_ms", "ms"), ("p99_ms", "ms"), ("throughput_rps", "requests/s"),
                ("error_rate", "ratio"))


class _Run:
    """What a run has measured so far: kept outside the loadgen so an interruption keeps it."""

    def __init__(self, p: LoadTestParams, benchmark_id: str, progress: Progress) -> None:
        self.p, self.benchmark_id, self.progress = p, benchmark_id, progress
        self.steps: list[StepResult] = []
        self.planned = 1 if p.mode == "load" else len(p.user_steps()) if p.mode == "steps" or p.steps else 0
        self.live: dict[str, Any] = {}

    def on_tick(self, elapsed: float, sent: int, completed: int, errors: int) -> None:
        self.live = {"elapsed_s": round(elapsed, 3), "sent": sent, "completed": completed, "errors": errors}
        self.report("load")

    def on_step(self, step: StepResult) -> None:
        self.steps.append(step)
        self.report("step done")

    def report(self, stage: str) -> None:
        try:
            self.progress({"stage": stage, "done": len(self.steps), "total": self.planned or None,
                           "benchmark_id": self.benchmark_id, "mode": self.p.mode, **self.live})
        except Exception:  # a broken progress channel must not end a load test
            support.log.exception("progress report failed")

    def results(self, base_url: str, contexts: int, strategy: str) -> dict[str, Any]:
        p = self.p
        deg = degradation_analysis(self.steps, p99_threshold_ms=p.max_p99_ms, max_error_rate=p.max_error_rate)
        complete = bool(self.steps) and all(s.result.complete for s in self.steps)
        return {"mode": p.mode, "scenario": p.scenario, "base_url": base_url, "contexts": contexts,
                "strategy": strategy, "complete": complete, "steps": [s.model_dump(mode="json") for s in self.steps],
                "degradation": deg, "partial": None if complete else self.live}


async def _drive(p: LoadTestParams, spec: LoadSpec, scenario: Scenario, run: _Run, cancel: support.CancelWatcher,
                 limits: LoadLimits, allowed: str) -> None:
    common: dict[str, Any] = {"limits": limits, "progress_cb": run.on_tick, "step_cb": run.on_step,
                              "cancel_event": cancel, "allowed_base_url": allowed}
    if p.mode == "load":
        result = await run_load(spec, scenario, run.on_tick, cancel, allowed_base_url=allowed)
        run.on_step(StepResult.from_result(result, p.users, p.rate))
    elif p.mode == "steps":
        await step_test(spec, scenario, p.user_steps(), p.rate, p.step_duration_s, max_error_rate=p.max_error_rate,
                        max_p99_ms=p.max_p99_ms, **common)
    else:
        await stress_ramp(spec, scenario, p.steps, p.rate, p.step_duration_s, max_error_rate=p.max_error_rate,
                          max_p99_ms=p.max_p99_ms, **common)


def _metric_rows(p: LoadTestParams, steps: list[StepResult], report: ResourceReport, benchmark_id: str,
                 strategy: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        labels = {"kind": KIND_BY_MODE[p.mode], "scenario": p.scenario, "step": i, "users": step.users,
                  "rate": step.rate, "complete": step.result.complete}
        for name, unit in STEP_METRICS:
            rows.append({"category": "benchmark", "metric_name": name, "metric_value": float(getattr(step, name)),
                         "unit": unit, "labels": labels, "strategy": strategy, "benchmark_id": benchmark_id})
    for name, proc in report.summary.items():
        labels = {"kind": KIND_BY_MODE[p.mode], "process": name}
        rows.append({"category": "benchmark", "metric_name": "cpu_seconds", "metric_value": proc.cpu_seconds,
                     "unit": "s", "labels": labels, "strategy": strategy, "benchmark_id": benchmark_id})
        if proc.rss_max_bytes is not None:
            rows.append({"category": "benchmark", "metric_name": "rss_max_bytes", "metric_value": proc.rss_max_bytes,
                         "unit": "bytes", "labels": labels, "strategy": strategy, "benchmark_id": benchmark_id})
    return rows


def run_load_test(params: dict[str, Any], progress: Progress, *, settings: Settings | None = None) -> dict[str, Any]:
    """Run and store one load test; returns its id, status and headline figures (JSON-safe)."""
    settings = settings or get_settings()
    p = LoadTestParams.model_validate(params)
    limits = LoadLimits.from_settings(settings)
    raise_for(load_limit_errors(p, limits, settings))
    base_url = target_url(p.base_url, settings)
    r, db = redis_client(settings), settings.database_url
    job_id = support.new_job_id(p.job_id)
    contexts = support.catalog_contexts(r)
    scenario = support.build_scenario(p.scenario, contexts, support.token_for(base_url, settings))
    strategy = support.strategy_flag(r, settings)
    first = p.users if p.mode == "load" or p.steps is None and p.mode == "stress" else p.user_steps()[0]
    spec = LoadSpec.with_limits(limits, base_url=base_url, users=first, rate=p.rate,
                                duration_s=p.duration_s if p.mode == "load" else p.step_duration_s,
                                warmup_s=p.warmup_s, timeout_s=p.timeout_s, scenario=p.scenario)
    support.mark_abandoned(db, settings)
    kind = KIND_BY_MODE[p.mode]
    name = p.name or f"{kind} {p.scenario} ({p.mode})"
    parameters = {**p.model_dump(mode="json"), "job_id": job_id, "base_url": base_url, "contexts": len(contexts)}
    benchmark_id = repository.create_benchmark(db, name, kind, parameters=parameters)
    run = _Run(p, benchmark_id, progress)
    run.report("starting")
    pids = {"loadgen": os.getpid(), **p.pids}
    sampler = ResourceSampler(pids, interval_s=SAMPLE_INTERVAL_S, redis_client=r)
    cancel = support.CancelWatcher(r, job_id)
    started = time.perf_counter()
    try:
        sampler.start()
        cancel.start()
        with support.deferred_interrupts(cancel), support.quiet_http_logs():
            asyncio.run(_drive(p, spec, scenario, run, cancel, limits, settings.api_base_url))
    except BaseException as exc:
        cancel.stop()
        report = sampler.stop()
        support.close_run(db, benchmark_id, exc, results=run.results(base_url, len(contexts), strategy),
                          resources=report.model_dump(mode="json"))
        raise
    cancel.stop()
    report = sampler.stop()
    results = run.results(base_url, len(contexts), strategy)
    status = "complete" if results["complete"] else "incomplete"
    error = None if status == "complete" else "cancelled on request" if cancel.is_set() else "stopped early"
    repository.update_benchmark(db, benchmark_id, status=status, results=results,
                                resource_utilization=report.model_dump(mode="json"), error=error)
    repository.insert_performance_metrics(db, _metric_rows(p, run.steps, report, benchmark_id, strategy))
    run.report("stored")
    return {"benchmark_id": benchmark_id, "job_id": job_id, "kind": kind, "status": status,
            "elapsed_s": round(time.perf_counter() - started, 3), "degradation": results["degradation"],
            "steps": [{"users": s.users, "rate": s.rate, "throughput_rps": s.throughput_rps, "p50_ms": s.p50_ms,
                       "p99_ms": s.p99_ms, "error_rate": s.error_rate, "complete": s.result.complete}
                      for s in run.steps],
            "resources": {k: v.model_dump(mode="json") for k, v in report.summary.items()},
            "resource_samples": len(report.samples)}
