"""``agentload report | loadtest | benchmark``: the performance jobs from the shell.

``loadtest`` and ``benchmark --local`` run the *same* job functions the Celery tasks run, in
this process, so their results are stored exactly like a job's (the database and Redis named
by the settings); ``benchmark`` without ``--local`` enqueues through the API and follows the
task. ``report`` renders the stored results into one offline HTML file. Registered on the main
app by ``register(app)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import redis
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentload.measure.params import BenchmarkParams, LoadTestParams, as_params
from agentload.settings import get_settings

console = Console(stderr=True)
POLL_S = 0.5


def register(app: typer.Typer) -> None:
    """Add the performance commands to ``app`` (the ``agentload`` Typer app)."""
    app.command("report")(report)
    app.command("loadtest")(loadtest)
    app.command("benchmark")(benchmark)


def _redis_or_none() -> redis.Redis | None:
    """Redis if it answers within a second: the report only needs it for tuned values."""
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        console.print(f"[yellow]Redis unavailable ({exc}); the report uses the settings only[/]")
        return None
    return client


def _require_results_database(db: str) -> None:
    """Exit 1 with one line saying what to run when ``db`` cannot hold results yet (no file,
    never migrated, outdated or unreachable). Why not an empty report: the usual cause is a
    database other than the one the stack wrote to (the default is ``agentload.db`` in the
    current folder), and an empty report would hide that; nothing is created here."""
    from models.migrate import schema_problem, shown_url

    problem = schema_problem(db)
    if problem is None:
        return
    if problem.kind == "unreachable":
        fix = "check that the database is running and that AGENTLOAD_DATABASE_URL names it"
    elif problem.kind == "outdated":
        fix = "run `python -m models.migrate upgrade` first"
    else:
        fix = ("nothing has been measured there: set AGENTLOAD_DATABASE_URL to the database your stack writes to "
               "(`agentload serve` keeps one in its state folder), or run `make demo`, or run `python -m "
               "models.migrate upgrade` and then `agentload benchmark` or `agentload loadtest` against a running API")
    typer.echo(f"error: {problem.detail} (AGENTLOAD_DATABASE_URL={shown_url(db)}); {fix}", err=True)
    raise typer.Exit(1)


def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    scenarios: Annotated[list[Path] | None, typer.Option("--scenarios", help="JSONL suite for selection "
                                                         "quality: a file, a folder or a glob (repeatable)")] = None,
    more: Annotated[list[Path] | None, typer.Argument(metavar="[SUITE]...", show_default=False,
                                                      help="more suites (a shell-expanded glob)")] = None,
) -> None:
    """Write the HTML report (plots and tables) from the stored results; prints its path."""
    from agentload.measure.evaluation import expand_suites
    from agentload.measure.report.collect import write_report

    try:
        suites = expand_suites([*(scenarios or []), *(more or [])])
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenarios") from exc
    db = get_settings().database_url
    _require_results_database(db)
    client = _redis_or_none()
    try:
        written = write_report(out, db, client, suites or None)
    finally:
        if client is not None:
            client.close()
    typer.echo(str(written))


def _validated(model: type[LoadTestParams] | type[BenchmarkParams], params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(str(first["msg"]), param_hint="--" + "-".join(str(p) for p in first["loc"])) from exc


def _pids(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, pid = item.partition("=")
        if not name or not pid.isdigit():
            raise typer.BadParameter(f"expected name=pid, got {item!r}", param_hint="--pid")
        out[name] = int(pid)
    return out


def _steps_table(steps: list[dict[str, Any]]) -> Table:
    table = Table("users", "rate", "req/s", "p50 ms", "p99 ms", "errors", "complete", title="load steps")
    for s in steps:
        table.add_row(str(s["users"]), f"{s['rate']:g}", f"{s['throughput_rps']:.1f}", f"{s['p50_ms']:.2f}",
                      f"{s['p99_ms']:.2f}", f"{s['error_rate']:.2%}", str(s["complete"]))
    return table


def loadtest(
    users: Annotated[int, typer.Option(help="virtual users (load mode)")] = 10,
    rate: Annotated[float, typer.Option(help="load: total requests/s; steps/stress: per user")] = 10.0,
    duration: Annotated[float, typer.Option(help="measured seconds (load mode)")] = 10.0,
    scenario: Annotated[str, typer.Option(help="selection_reads | preload_writes | journeys | mixed")]
    = "selection_reads",
    mode: Annotated[str, typer.Option(help="load | steps | stress")] = "load",
    steps: Annotated[str | None, typer.Option(help="users per step, e.g. 1,5,10,25")] = None,
    step_duration: Annotated[float, typer.Option(help="measured seconds per step")] = 5.0,
    base_url: Annotated[str | None, typer.Option("--base-url", help="default: settings.api_base_url")] = None,
    pid: Annotated[list[str] | None, typer.Option("--pid", help="process to sample, name=pid (repeatable)")] = None,
) -> None:
    """Run a load test in this process with a progress bar and store it like the job does."""
    from agentload.measure.jobs.loadtest import run_load_test

    try:
        step_list = [int(x) for x in steps.split(",")] if steps else None
    except ValueError as exc:
        raise typer.BadParameter("comma-separated integers expected", param_hint="--steps") from exc
    raw = {"users": users, "rate": rate, "duration_s": duration, "scenario": scenario, "mode": mode,
           "steps": step_list, "step_duration_s": step_duration, "base_url": base_url, "pids": _pids(pid or [])}
    p: LoadTestParams = _validated(LoadTestParams, {k: v for k, v in raw.items() if v is not None})
    n = 1 if p.mode == "load" else len(p.user_steps()) if p.mode == "steps" or p.steps else 1
    window = p.duration_s if p.mode == "load" else p.step_duration_s
    with _bar() as bar:
        task = bar.add_task(f"{p.mode} {p.scenario}", total=n * window)

        def show(meta: dict[str, Any]) -> None:
            done = min(float(meta.get("elapsed_s") or 0.0), window) if meta.get("stage") == "load" else 0.0
            bar.update(task, completed=min(n * window, int(meta.get("done") or 0) * window + done),
                       description=f"{p.mode} {p.scenario} step {min(int(meta.get('done') or 0) + 1, n)}/{n} "
                       f"sent={meta.get('sent', 0)} errors={meta.get('errors', 0)}")

        try:
            result = run_load_test(as_params(p), show)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    console.print(_steps_table(result["steps"]))
    typer.echo(f"{result['status']}: benchmark {result['benchmark_id']} ({result['kind']}); "
               f"knee users={result['degradation'].get('knee_users')} "
               f"saturation={result['degradation'].get('saturation_throughput_rps')}")


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=console)


def _strategy_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("strategy", "tokens/request", "p50 ms", "p99 ms", "CPU ms/request", "bytes/request", "errors",
                  title="before vs after")

    def f(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for row in rows:
        table.add_row(row["strategy"], f(row.get("tokens_per_request"), ",.0f"), f(row.get("p50_ms"), ".2f"),
                      f(row.get("p99_ms"), ".2f"), f(row.get("cpu_ms_per_request"), ".3f"),
                      f(row.get("bytes_per_request"), ",.0f"), f(row.get("error_rate"), ".2%"))
    return table


def follow(api: str, token: str, task_id: str, poll_url: str) -> dict[str, Any]:
    """Poll the task with a progress bar; Ctrl-C asks the job to stop (it stores what it has)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api, timeout=10.0, trust_env=False) as client, _bar() as bar:
        task = bar.add_task("queued", total=None)
        try:
            while True:
                state = client.get(poll_url).json()
                meta = state.get("progress") or {}
                if meta:
                    bar.update(task, total=meta.get("total") or None, completed=meta.get("done") or 0,
                               description=str(meta.get("stage", state["state"])))
                if state.get("ready"):
                    return dict(state)
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            client.post(f"/api/v1/performance/jobs/{task_id}/cancel", headers=headers)
            console.print("[yellow]cancel requested; the run is stored as incomplete[/]")
            raise typer.Exit(130) from None


def benchmark(
    local: Annotated[bool, typer.Option("--local", help="run in this process instead of via the API")] = False,
    api: Annotated[str | None, typer.Option("--api", help="API base URL (default settings.api_base_url)")] = None,
    rate: Annotated[float, typer.Option(help="requests/s per strategy")] = 20.0,
    duration: Annotated[float, typer.Option(help="measured seconds per strategy")] = 3.0,
    users: Annotated[int, typer.Option(help="virtual users")] = 10,
    request: Annotated[list[str] | None, typer.Option("--request", help="free-text request (repeatable)")] = None,
    api_pid: Annotated[int | None, typer.Option("--api-pid", help="API process to sample CPU of")] = None,
) -> None:
    """Before/after benchmark (full / selective / cached): tokens, p50/p99, CPU and bytes per request."""
    settings = get_settings()
    raw = {"rate": rate, "duration_s": duration, "users": users, "requests": request or [], "api_pid": api_pid,
           "base_url": api}
    p: BenchmarkParams = _validated(BenchmarkParams, {k: v for k, v in raw.items() if v is not None})
    if local:
        from agentload.measure.jobs.benchmark import run_benchmark

        with _bar() as bar:
            task = bar.add_task("tokens", total=None)

            def show(meta: dict[str, Any]) -> None:
                bar.update(task, total=meta.get("total") or None, completed=meta.get("done") or 0,
                           description=str(meta.get("stage")))

            result = run_benchmark(as_params(p), show)
    else:
        base = (api or settings.api_base_url).rstrip("/")
        resp = httpx.post(f"{base}/api/v1/performance/benchmark", json=as_params(p), timeout=10.0, trust_env=False,
                          headers={"Authorization": f"Bearer {settings.api_token}"})
        if resp.status_code != 202:
            raise typer.BadParameter(f"API answered {resp.status_code}: {resp.text[:500]}")
        accepted = resp.json()
        state = follow(base, settings.api_token, accepted["task_id"], accepted["poll_url"])
        if state["state"] != "SUCCESS":
            console.print(f"[red]benchmark {state['state']}: {state.get('error')}[/]")
            raise typer.Exit(1)
        result = state["result"]
    console.print(_strategy_table(result["strategies"]))
    for note in result.get("notes", []):
        console.print(f"[yellow]{note}[/]")
    typer.echo(f"{result['status']}: benchmark {result['benchmark_id']} over {result['workload']} contexts")
