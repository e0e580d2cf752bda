"""Concurrent users on the hot selection read: step test, stress ramp, the knee, and overload.

Starts a private Redis, publishes the bundled catalog and starts the real API as deployed
(``python -m agentload.api.serve``, one worker process) on a free loopback port, then drives
it with the open-model generator (``agentload.measure.loadgen``): every virtual user reads
selections of the catalog's own structured contexts at ``--user-rate`` requests/s (a user with
think time), so 200 users offer 200 x user-rate requests/s. Step test 1..200 users, then a
stress ramp at a higher per-user rate until errors > 1 % or p99 > 1 s, and the degradation
analysis (knee, saturation).

Overload (issue 17: "under 4x the saturating rate, 0 responses that blame Redis while Redis is
healthy"): the generator above counts error *statuses* only, and one Python process cannot
offer several times what the server takes, so this phase has its own client, ``--clients``
processes of a lean HTTP client (``_httpload``) that read every answer's ``detail``. First a closed loop (each
connection sends its next request when the answer is back) finds the saturating rate, the
goodput the server sustains; then an open-model run offers ``--factor`` times that rate for
``--seconds`` over ``--connections`` connections. Answers are sorted by kind (ok, 503
overloaded, an answer that blames Redis, other 503, other status, client timeout, connection
error), with how many 503s carried ``Retry-After``; a thread PINGs Redis every 50 ms all along,
so "Redis was healthy" is measured, not assumed; the API's ``/metrics`` refusal counters are
printed before and after. Exit status 1 when any answer blamed Redis while every PING succeeded.

    .venv/bin/python benchmarks/scalability.py [--user-rate 2] [--stress-rate 20] [--step 4]
    .venv/bin/python benchmarks/scalability.py --overload-only [--factor 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from _common import percentile, table

STEPS = [1, 5, 10, 25, 50, 100, 200]
BLAMES_REDIS = "blames Redis"
KINDS = ("ok", "503 overloaded", BLAMES_REDIS, "503 other", "other status", "client timeout", "connection error")


def kind_of(status: int, body: bytes) -> tuple[str, str]:
    """(kind, detail) of one answer: the ``detail`` of a JSON error body decides the kind."""
    import orjson
    if 200 <= status < 300:
        return "ok", ""
    try:
        detail = str(orjson.loads(body).get("detail", ""))
    except (orjson.JSONDecodeError, AttributeError):
        detail = body[:60].decode("utf-8", "replace")
    if "Redis" in detail:
        return BLAMES_REDIS, detail
    if status == 503:
        return ("503 overloaded" if detail.startswith("overloaded") else "503 other"), detail
    return "other status", f"{status} {detail}"


def drive(host: str, port: int, targets: list[str], rate: float, seconds: float, connections: int,
          start_at: float, timeout_s: float) -> dict[str, Any]:
    """One client process (``_httpload``): closed loop over ``connections`` when ``rate`` is 0, else open model."""
    import uvloop
    from _httpload import run

    uvloop.install()
    return asyncio.run(run(host, port, targets, rate, seconds, connections, start_at, timeout_s, kind_of))


def run_clients(port: int, targets: list[str], rate: float, seconds: float, connections: int, clients: int,
                timeout_s: float) -> dict[str, Any]:
    """``clients`` processes together; their counts summed."""
    start_at = time.time() + 2.0  # every process spawned and connected before the first send
    share = max(1, connections // clients)
    with ProcessPoolExecutor(clients, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(drive, "127.0.0.1", port, targets, rate / clients, seconds, share, start_at, timeout_s)
                   for _ in range(clients)]
        parts = [f.result() for f in futures]
    total: dict[str, Any] = {"kinds": Counter(), "details": Counter(), "retry_after": 0, "ok_ms": [], "sent": 0,
                             "cpu_s": 0.0}
    for part in parts:
        for key in ("kinds", "details"):
            total[key].update(part[key])
        for key in ("retry_after", "sent", "ok_ms", "cpu_s"):
            total[key] += part[key]
    total["elapsed_s"] = max(p["elapsed_s"] for p in parts)
    return total


class RedisWatch(threading.Thread):
    """PINGs Redis every 50 ms: how many answered, failed, and the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        import redis
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.ok = self.failed = 0
        self.slowest_ms = 0.0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            t = time.perf_counter()
            try:
                self.client.ping()
                self.ok += 1
                self.slowest_ms = max(self.slowest_ms, (time.perf_counter() - t) * 1000)
            except Exception:  # noqa: BLE001 - every failure counts as Redis unhealthy
                self.failed += 1


def refusals(base: str) -> dict[str, float]:
    """``agentload_http_refused_total`` by cause from the API's ``/metrics``."""
    import httpx
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {m[1]: float(m[2]) for m in re.finditer(r'agentload_http_refused_total\{cause="([^"]+)"\} (\S+)', text)}


def cpu_s(pid: int) -> float:
    import psutil
    return sum(psutil.Process(pid).cpu_times()[:2])


def overload(port: int, api_pid: int, redis_url: str, targets: list[str], args: argparse.Namespace) -> int:
    """Saturating rate (closed loop), then ``--factor`` times it offered; 1 when Redis was blamed while healthy."""
    base = f"http://127.0.0.1:{port}"
    cpu0 = cpu_s(api_pid)
    sat = run_clients(port, targets, 0, args.seconds, args.closed_connections, args.clients, args.timeout)
    cpu1 = cpu_s(api_pid)
    saturating = sat["kinds"]["ok"] / sat["elapsed_s"]
    others = dict(sat["kinds"] - Counter(ok=sat["kinds"]["ok"]))
    print(f"saturating rate (closed loop, {args.closed_connections} connections, {args.clients} client processes): "
          f"{saturating:,.0f} ok/s; other answers {others or 'none'}; API process busy "
          f"{(cpu1 - cpu0) / sat['elapsed_s']:.0%} of a core, clients {sat['cpu_s'] / sat['elapsed_s']:.0%}",
          flush=True)
    offered = args.factor * saturating
    before = refusals(base)
    watch = RedisWatch(redis_url)
    watch.start()
    cpu0 = cpu_s(api_pid)
    res = run_clients(port, targets, offered, args.seconds, args.connections, args.clients, args.timeout)
    cpu1 = cpu_s(api_pid)
    watch.stopping.set()
    watch.join()
    after = refusals(base)
    total = sum(res["kinds"].values())
    print(f"offered {offered:,.0f} req/s ({args.factor:g}x) for {args.seconds:g} s over {args.connections} "
          f"connections: {res['sent']:,} sent ({res['sent'] / res['elapsed_s']:,.0f}/s), {total:,} finished; "
          f"ok p50 {percentile(res['ok_ms'], 50):.0f} ms, p99 {percentile(res['ok_ms'], 99):.0f} ms; "
          f"API process busy {(cpu1 - cpu0) / res['elapsed_s']:.0%} of a core, "
          f"clients {res['cpu_s'] / res['elapsed_s']:.0%}")
    print(table(["answer", "count", "share"],
                [[k, res["kinds"][k], f"{res['kinds'][k] / max(1, total):.2%}"] for k in KINDS]))
    n503 = sum(v for k, v in res["kinds"].items() if k.startswith("503"))
    print(f"503 answers with Retry-After: {res['retry_after']:,} of {n503:,} (503 overloaded + other 503)")
    for line, count in res["details"].most_common(8):
        print(f"  {count:>7,}  {line}")
    print("/metrics agentload_http_refused_total during the run: "
          + (", ".join(f"{c} +{after.get(c, 0) - before.get(c, 0):.0f}" for c in sorted(after)) or "none"))
    healthy = watch.failed == 0 and watch.ok > 0
    print(f"Redis PING every 50 ms during the run: {watch.ok} answered, {watch.failed} failed, "
          f"slowest {watch.slowest_ms:.1f} ms -> Redis {'healthy' if healthy else 'NOT healthy'} throughout")
    blamed = res["kinds"][BLAMES_REDIS]
    print(f"responses that blame Redis while Redis is healthy: {blamed if healthy else 'n/a'} (target 0)")
    return 1 if healthy and blamed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--user-rate", type=float, default=2.0, help="requests/s per user (step test)")
    parser.add_argument("--stress-rate", type=float, default=20.0, help="requests/s per user (stress ramp)")
    parser.add_argument("--step", type=float, default=4.0, help="measured seconds per step")
    parser.add_argument("--overload-only", action="store_true", help="skip the step test and stress ramp")
    parser.add_argument("--factor", type=float, default=4.0, help="overload: offered rate / saturating rate")
    parser.add_argument("--seconds", type=float, default=10.0, help="overload: seconds per run")
    parser.add_argument("--clients", type=int, default=2, help="overload: client processes")
    parser.add_argument("--closed-connections", type=int, default=50, help="overload: closed-loop connections")
    parser.add_argument("--connections", type=int, default=2000, help="overload: open-model connections")
    parser.add_argument("--timeout", type=float, default=5.0, help="overload: client timeout per request (s)")
    args = parser.parse_args(argv)

    import redis

    from agentload.measure.analysis import degradation_analysis
    from agentload.measure.jobs.support import catalog_contexts
    from agentload.measure.loadgen.clients import request_target
    from agentload.measure.loadgen.scenarios import selection_reads
    from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
    from agentload.measure.loadgen.steps import step_test_sync, stress_ramp_sync
    from tests.harness import RedisProcess, free_port, publish_real_catalog, stop_process, wait_http

    redis_proc = RedisProcess().start()
    api = None
    status = 0
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"scalability-api-{os.getpid()}.log"
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"AGENTLOAD_REDIS_URL": redis_proc.url, "AGENTLOAD_API_BASE_URL": base}
        os.environ.update(env)
        publish_real_catalog(redis_proc.url)
        with log.open("wb") as sink:  # the API's log: refusals are logged, read at the end
            api = subprocess.Popen([sys.executable, "-m", "agentload.api.serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--workers", "1", "--log-level", "warning"], stdout=sink, stderr=sink)
        wait_http(f"{base}/healthz", proc=api)
        contexts = catalog_contexts(redis.Redis.from_url(redis_proc.url))
        scenario = selection_reads(contexts)
        if not args.overload_only:
            steps_and_stress(base, scenario, args, degradation_analysis, LoadLimits, LoadSpec, step_test_sync,
                             stress_ramp_sync)
        targets = [request_target("", scenario(n, 0)) for n in range(len(contexts))]
        status = overload(port, api.pid, redis_proc.url, targets, args)
    finally:
        stop_process(api)
        redis_proc.stop()
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    print(f"API log: {sum('Exceeded concurrency limit' in x for x in lines)} 'Exceeded concurrency limit', "
          f"{sum('redis unavailable' in x for x in lines)} 'redis unavailable' lines ({log})")
    return status


def steps_and_stress(base: str, scenario: Any, args: argparse.Namespace, *deps: Any) -> None:  # noqa: ANN401
    degradation_analysis, LoadLimits, LoadSpec, step_test_sync, stress_ramp_sync = deps  # noqa: N806
    limits = LoadLimits(max_users=1000, max_rate=50_000, max_duration_s=600)
    spec = LoadSpec(base_url=base, users=1, rate=1, duration_s=args.step, warmup_s=0.5, timeout_s=5)
    rows = []
    for name, run, rate in (("steps", step_test_sync, args.user_rate), ("stress", stress_ramp_sync,
                                                                        args.stress_rate)):
        kwargs = {"users_steps": STEPS} if name == "steps" else {"users_steps": [10, 25, 50, 100, 200, 400]}
        steps = run(spec, scenario, rate_per_user=rate, step_duration_s=args.step, limits=limits,
                    allowed_base_url=base, **kwargs)
        for s in steps:
            rows.append([name, s.users, f"{s.rate:g}", f"{s.throughput_rps:.0f}", f"{s.p50_ms:.2f}",
                         f"{s.p99_ms:.2f}", f"{s.error_rate:.2%}", s.breach or ""])
        deg = degradation_analysis(steps)
        print(f"{name}: knee at {deg['knee_users']} users; saturation {deg['saturation_throughput_rps']:.0f} "
              f"req/s at {deg['saturation_users']} users; first breach {deg['first_breach']}", flush=True)
    print(table(["run", "users", "offered req/s", "achieved req/s", "p50 ms", "p99 ms", "errors", "breach"], rows))
    at200 = [r for r in rows if r[0] == "steps" and r[1] == 200]
    if at200:
        print(f"target: 200 users, 0 errors, p99 < 50 ms -> p99 {at200[0][5]} ms, errors {at200[0][6]}")


if __name__ == "__main__":
    sys.exit(main())
