"""``agentload demo``: drive a running stack the way its users would, and summarise.

``scripts/demo.sh`` starts Redis, a worker, beat and the API, then calls this. Every step
goes through the real path: the preload is a Celery task sent by name, selections are read
from the API, free text is computed by the worker on a miss, the benchmark and the load test
are Celery jobs started over the API and followed until done, the metric flushes are the
beat's own tasks, and the report is rendered from what the jobs stored.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
from rich.console import Console
from rich.table import Table

from agentload.api.enqueue import build_client
from agentload.catalog import load_catalog, require_agents
from agentload.measure.analysis import breach_text
from agentload.measure.cli import follow
from agentload.measure.evaluation import (
    LAYOUTS,
    evaluate_one,
    layout_name,
    read_scenarios,
    suite_catalog,
    summarize,
)
from agentload.measure.journey import journey_main
from agentload.measure.journey_tokens import format_tokens, ledger_rows, measure_catalog
from agentload.measure.report.collect import write_report
from agentload.selection.engine import SelectionConfig, Selector
from agentload.settings import Settings, get_settings
from agentload.tasknames import TaskName
from models import repository

# a log file or pipe reports 80 columns; the evaluation table needs about 120
console = Console(width=max(120, shutil.get_terminal_size((120, 40)).columns))
STRUCTURED: dict[str, str | int] = {"track": "bmad-method", "field_type": "greenfield", "phase": 2, "has_ui": "true"}
FREE_TEXT = "we need a risk-based test plan for the checkout epic before anyone writes code"


def _wait_http(client: httpx.Client, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{client.base_url}{path} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.2)


def _task(settings: Settings, name: TaskName, kwargs: dict[str, Any], timeout_s: float) -> Any:  # noqa: ANN401
    """Send a task by name and wait for its JSON result (the worker does the work)."""
    app = build_client(settings, timeout_s=5.0)
    try:
        result = app.send_task(name.value, kwargs=kwargs)  # routed by the client's task_routes
        deadline = time.monotonic() + timeout_s
        while not result.ready():  # polled: this client does not subscribe to result channels
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not finish within {timeout_s:.0f} s (is a worker running?)")
            time.sleep(0.1)
        if result.failed():
            raise RuntimeError(f"{name} failed: {result.result!r}")
        return result.result
    finally:
        app.close()


def _pids(api_port: int, logs: Path | None) -> dict[str, int]:
    """Processes to sample during the jobs: the API (by its port), the worker, Redis."""
    pids: dict[str, int] = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if ("uvicorn" in cmd or "agentload.api.serve" in cmd) and f"--port {api_port}" in cmd:
            pids["api"] = proc.info["pid"]
        elif "celery" in cmd and " worker" in cmd and "worker" not in pids:
            pids["worker"] = proc.info["pid"]
    pidfile = logs / "redis" / "redis.pid" if logs is not None else None
    if pidfile is not None and pidfile.is_file():  # scripts/redis.sh writes it
        pids["redis"] = int(pidfile.read_text().strip())
    return pids


def evaluate_suites(scenarios: Path, layouts: Path = LAYOUTS) -> dict[str, dict[str, Any]]:
    """Summary per suite (and overall), each suite on the catalog it was written for
    (``evaluation.suite_catalog``), with that catalog's layout, agent and skill counts."""
    settings = get_settings()
    config = SelectionConfig.from_settings(settings)
    selectors: dict[Path, Selector] = {}
    out: dict[str, dict[str, Any]] = {}
    every: list[dict[str, Any]] = []
    for suite in sorted(scenarios.glob("*.jsonl")):
        root = suite_catalog(suite, layouts, Path(settings.catalog_path))
        if root not in selectors:
            selectors[root] = Selector(require_agents(load_catalog(root)), config)
        selector = selectors[root]
        lines = [evaluate_one(selector, s) for s in read_scenarios(suite)]
        out[suite.name] = {**summarize(lines), "catalog": root.name, "layout": layout_name(selector),
                           "agents": len(selector.catalog.agents), "skills": len(selector.catalog.skills)}
        every += lines
    if every:
        out["overall"] = summarize(every)
    return out


def journey_tokens(settings: Settings, scenarios: Path | None) -> list[dict[str, Any]]:
    """Every track of the bundled catalog and of each tree a scenario suite was written for
    (``evaluation.suite_catalog``: the suite's own ``catalog`` field, not a folder name), walked
    through the MCP tools (a private Redis per tree); printed, and stored for the report's
    journey section."""
    bundled = Path(settings.catalog_path)
    suites = sorted(scenarios.glob("*.jsonl")) if scenarios is not None and scenarios.is_dir() else []
    trees = list(dict.fromkeys([bundled, *(suite_catalog(s, LAYOUTS, bundled) for s in suites)]))
    results = [asyncio.run(measure_catalog(root, settings)) for root in trees]
    repository.insert_token_optimization(settings.database_url, [r for res in results for r in ledger_rows(res)])
    for res in results:
        console.print(format_tokens(res))
    return [{"catalog": Path(res["catalog"]).name, "layout": res["layout"],
             **{k: sum(t["totals"][k] for t in res["tracks"]) for k in ("everything", "agents", "progressive")},
             "recall": min(t["recall"] for t in res["tracks"])} for res in results]


def run_demo(api: str, scenarios: Path | None, report: Path, logs: Path | None) -> dict[str, Any]:
    """Run every step; returns the figures printed in the summary."""
    settings = get_settings()
    auth = {"Authorization": f"Bearer {settings.api_token}"}
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=api, timeout=30.0, trust_env=False) as client:
        console.rule("1. services")
        _wait_http(client, "/healthz", 60)
        pong = _task(settings, TaskName.PING, {}, 60)
        console.print(f"API up at {api}; worker {pong.get('hostname')} answers")

        console.rule("2. preload of the bundled catalog (Celery task agentload.preload)")
        pre = _task(settings, TaskName.PRELOAD, {"full": True}, 300)
        console.print({k: pre.get(k) for k in ("version", "agents", "selections", "total_ms", "skipped") if k in pre})
        _wait_http(client, "/readyz", 30)
        figures["catalog_version"] = pre.get("version")

        console.rule("3. selections through the API")
        hit = client.get("/api/v1/agents/optimized-loading", params=STRUCTURED).json()
        console.print(f"structured {STRUCTURED}: agents={[a['id'] for a in hit['agents']]} cache={hit.get('cache')} "
                      f"delivered tokens {hit['context_tokens']}/{hit['full_context_tokens']} "
                      f"(reduction {hit['reduction']:.1%}; files {hit['optimized_tokens']}/{hit['baseline_tokens']})")
        first = client.get("/api/v1/agents/optimized-loading", params={"request": FREE_TEXT, "wait_ms": "5000"})
        again = client.get("/api/v1/agents/optimized-loading", params={"request": FREE_TEXT}).json()
        console.print(f"free text: first {first.status_code} cache={first.json().get('cache')}, then "
                      f"cache={again.get('cache')} agents={[a['id'] for a in again.get('agents', [])]}")
        figures["structured_reduction"] = hit["reduction"]

        console.rule("4. journey: a project walks a whole BMad path (API + MCP over stdio)")
        figures["journey_exit"] = journey_main(api_base_url=api, track="bmad-method", field_type="greenfield",
                                               token=settings.api_token, redis_url=settings.redis_url)

        console.rule("4b. delivered tokens over whole journeys: everything / agents only / progressive (MCP)")
        figures["journey_tokens"] = journey_tokens(settings, scenarios)

        if scenarios is not None and scenarios.is_dir():
            console.rule(f"5. evaluation on {scenarios}")
            quality = evaluate_suites(scenarios)
            figures["quality"] = quality
            table = Table("suite", "catalog", "layout", "agents", "skills", "n", "recall", "mean agents",
                          "median cut", "p10 cut")
            for name, s in quality.items():
                table.add_row(name, str(s.get("catalog", "")), str(s.get("layout", "")), str(s.get("agents", "")),
                              str(s.get("skills", "")), str(s["scenarios"]),
                              f"{s['recall']:.3f}" if s.get("recall") is not None else "-",
                              str(s["mean_agents"]), f"{s['median_reduction']:.1%}", f"{s['p10_reduction']:.1%}")
            console.print(table)
        else:
            console.print(f"[yellow]no scenario suites at {scenarios}; evaluation skipped[/]")

        pids = _pids(int(api.rsplit(":", 1)[1].split("/")[0]), logs)
        console.rule("6. benchmark job: strategies full / selective / cached side by side")
        resp = client.post("/api/v1/performance/benchmark", headers=auth, json={
            "rate": 20, "duration_s": 2, "users": 5, "requests": [FREE_TEXT], "api_pid": pids.get("api")})
        resp.raise_for_status()
        bench = follow(api, settings.api_token, resp.json()["task_id"], resp.json()["poll_url"])
        figures["benchmark"] = (bench.get("result") or {}).get("strategies")
        console.print(f"benchmark {bench['state']}")

        console.rule("7. load test job: step test on selection reads")
        resp = client.post("/api/v1/performance/load-test", headers=auth, json={
            "scenario": "selection_reads", "mode": "steps", "steps": [1, 5, 10, 25, 50], "rate": 10,
            "step_duration_s": 2, "pids": pids})
        resp.raise_for_status()
        load = follow(api, settings.api_token, resp.json()["task_id"], resp.json()["poll_url"])
        result = load.get("result") or {}
        figures["load_test"] = {"state": load["state"], "degradation": result.get("degradation")}
        console.print(f"load test {load['state']}: {result.get('status')}")

        console.rule("8. metric flushes (the beat's tasks) and the report")
        figures["flush_events"] = _task(settings, TaskName.FLUSH_SELECTION_EVENTS, {}, 60)
        figures["flush_stats"] = _task(settings, TaskName.FLUSH_CACHE_STATS, {}, 60)
        client_r = redis.Redis.from_url(settings.redis_url)
        try:
            suites = sorted(scenarios.glob("*.jsonl")) if scenarios is not None and scenarios.is_dir() else None
            path = write_report(report, settings.database_url, client_r, suites)
        finally:
            client_r.close()
        figures["report"] = str(path.resolve())
    return figures


def print_summary(figures: dict[str, Any]) -> None:
    console.rule("summary")
    table = Table("what", "measured")
    table.add_row("catalog version", str(figures.get("catalog_version")))
    table.add_row("structured selection reduction", f"{figures.get('structured_reduction', 0):.1%}")
    for name, s in (figures.get("quality") or {}).items():
        recall = "-" if s.get("recall") is None else f"{s['recall']:.3f}"
        where = (f" on {s['catalog']} ({s['layout']}: {s['agents']} agents, {s['skills']} skills)"
                 if "layout" in s else "")
        table.add_row(f"eval {name}", f"recall {recall}, median cut {s.get('median_reduction', 0):.1%}{where}")
    for row in figures.get("benchmark") or []:
        table.add_row(f"benchmark {row.get('strategy')}",
                      f"{row.get('tokens_per_request', 0):,.0f} tokens/request, p50 {row.get('p50_ms') or 0:.2f} ms, "
                      f"p99 {row.get('p99_ms') or 0:.2f} ms")
    deg = (figures.get("load_test") or {}).get("degradation") or {}
    breach = deg.get("first_breach")
    # the highest step's throughput, not a saturation point: the steps may not reach one
    table.add_row("load test (steps 1-50 users)", f"knee at {deg.get('knee_users')} users, max throughput "
                  f"{deg.get('saturation_throughput_rps') or 0:.0f} req/s at {deg.get('saturation_users')} users, "
                  + (f"first target breach {breach_text(breach)}" if breach else "no latency or error target breached"))
    table.add_row("journey", "ok" if figures.get("journey_exit") == 0 else "failed steps (see above)")
    for j in figures.get("journey_tokens") or []:
        cut = 1 - j["progressive"] / j["everything"] if j["everything"] else 0.0
        table.add_row(f"journeys on {j['catalog']} ({j['layout']})",
                      f"delivered: everything {j['everything']:,}, agents only {j['agents']:,}, progressive "
                      f"{j['progressive']:,} (-{cut:.1%}); step recall {j['recall']:.2f}")
    events = figures.get("flush_events") or {}
    table.add_row("selection events flushed to SQL", f"{events.get('events')} (remaining {events.get('remaining')})")
    console.print(table)
    console.print(f"[bold]HTML report:[/] {figures.get('report')}")
