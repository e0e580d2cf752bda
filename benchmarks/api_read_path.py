"""Read-path benchmark: the hot selection GET against a bare FastAPI constant, same run.

Starts a private Redis (or uses ``--redis-url``), publishes the repository's catalog, then
two uvicorn processes with one worker each (uvloop + httptools, no access log): the real API
and a bare FastAPI app whose only route returns a constant. Both are driven the same way by
httpx async clients with keep-alive at 1, 10, 50 and 200 concurrent clients; the bare app is
the ceiling of "FastAPI on uvicorn on this machine", so the throughput ratio isolates what
the read path itself costs (Redis round trips, resolving, serialising, telemetry).

Closed loop (default) measures capacity: with N clients always waiting, latency is mostly
queueing (Little's law: N / throughput). ``--rate R`` runs an open loop at R requests/s in
total, which measures the latency a client sees below saturation.

Client-observed latency includes the client's own scheduling: one Python process drives all
clients and shares the machine with both servers and Redis. ``--pin`` puts the servers and
Redis on the first CPU and the client on the others, and the client runs with its garbage
collector paused during a measurement (its own 20-90 ms collections would otherwise be
charged to the server). ``server p99`` is the API's own time per request from its Redis
latency histogram (``livestats``: bucket-interpolated, and it runs until the handler
returns, so it is an upper bound), for the same requests.

    .venv/bin/python benchmarks/api_read_path.py [--duration 3] [--clients 1,10,50,200] [--rate 1000] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (SIGTERM runs this script's cleanup: see _common)
import httpx
from fastapi import FastAPI
from fastapi.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOT_QUERY = "track=bmad-method&field_type=greenfield&phase=2&has_ui=true"
SELECTION_ROUTE = "GET /api/v1/agents/optimized-loading"

bare = FastAPI()
# the hot answer's own bytes when the benchmark passes them: the same size on the wire
_BODY_FILE = os.environ.get("AGENTLOAD_BENCH_BODY")
_CONSTANT = Path(_BODY_FILE).read_bytes() if _BODY_FILE else b'{"status":"ok"}'


@bare.get("/bare")
async def constant() -> Response:
    return Response(_CONSTANT, media_type="application/json")


async def drive(url: str, clients: int, duration_s: float, warmup_s: float,
                total_rps: float | None = None) -> dict[str, Any]:
    """``clients`` simulated clients, each its own ``httpx.AsyncClient`` with one keep-alive
    connection, looping GET ``url`` (closed loop: as fast as answers come back).

    With ``total_rps`` each client instead sends on a fixed schedule (open loop, the total
    rate split evenly) and latency counts from the *scheduled* send time, so a stalled
    server is charged for the requests it delayed (no coordinated omission).

    One shared pool for all clients would measure httpx's pool contention instead of the
    server (its throughput collapses beyond ~20 connections). Clients are created before
    the clock starts: each builds an SSL context (milliseconds of CPU) even for plain HTTP.
    """
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(limits=limits, timeout=10.0) for _ in range(clients)]
    latencies: list[float] = []
    errors = sent = 0
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s
    period = clients / total_rps if total_rps else 0.0

    async def one(index: int, client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        due = start + (period * index / clients if period else 0.0)
        while True:
            if period:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = due if period else time.perf_counter()
            if t0 >= stop_at:
                return
            resp = await client.get(url)
            t1 = time.perf_counter()
            sent += 1
            if resp.status_code != 200:
                errors += 1
            if t0 >= measure_from:
                latencies.append(t1 - t0)
            due += period

    gc.collect()
    gc.disable()  # the load generator's own GC pauses (20-90 ms) would be charged to the server
    try:
        await asyncio.gather(*(one(i, c) for i, c in enumerate(pool)))
    finally:
        gc.enable()
        await asyncio.gather(*(c.aclose() for c in pool))
    latencies.sort()
    n = len(latencies)
    return {"clients": clients, "requests": n, "sent": sent, "errors": errors, "rps": n / duration_s,
            "p50_ms": statistics.median(latencies) * 1000 if n else None,
            "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else None}


def server_hist(redis_url: str) -> dict[str, int]:
    import redis

    from agentload import keys
    from agentload.reader.codec import text

    client = redis.Redis.from_url(redis_url)
    try:
        return {text(k) or "": int(v) for k, v in client.hgetall(keys.latency_key(SELECTION_ROUTE)).items()}
    finally:
        client.close()


def server_p99(before: dict[str, int], after: dict[str, int]) -> float | None:
    from agentload.api.livestats import summarize

    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    p99: float | None = summarize(delta, delta.get("sum_us", 0)).get("p99_ms")
    return p99


async def measured(url: str, pid: int, clients: int, args: argparse.Namespace) -> dict[str, Any]:
    """``drive`` plus the server process's CPU time per request sent (user + system, psutil):
    unlike throughput, it does not depend on how fast this client is."""
    import psutil

    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    row = await drive(url, clients, args.duration, args.warmup, args.rate)
    row["cpu_us"] = (sum(proc.cpu_times()[:2]) - before) / max(1, row["sent"]) * 1e6
    return row


async def run(args: argparse.Namespace, bases: dict[str, tuple[str, int]], redis_url: str) -> list[dict[str, Any]]:
    """Per client count: the API (hot path), the API with ``AGENTLOAD_HOT_PATH=false`` (every
    request through FastAPI's route) and the bare app, one after the other."""
    rows = []
    api_url = f"{bases['api'][0]}/api/v1/agents/optimized-loading?{HOT_QUERY}"
    check = httpx.get(api_url).json()
    assert check.get("cache") == "hit", f"the hot context is not precomputed: {check}"
    for clients in args.clients:
        before = server_hist(redis_url)
        api = await measured(api_url, bases["api"][1], clients, args)
        api["server_p99_ms"] = server_p99(before, server_hist(redis_url))
        route = await measured(api_url.replace(bases["api"][0], bases["route"][0]), bases["route"][1], clients, args)
        bare_row = await measured(f"{bases['bare'][0]}/bare", bases["bare"][1], clients, args)
        rows.append({"clients": clients, "api": api, "route": route, "bare": bare_row,
                     "ratio": api["rps"] / bare_row["rps"] if bare_row["rps"] else None,
                     "cpu_ratio": api["cpu_us"] / bare_row["cpu_us"],
                     "route_cpu_ratio": route["cpu_us"] / bare_row["cpu_us"]})
        print(f"{clients:>4} clients | api p50 {api['p50_ms']:7.2f} ms  p99 {api['p99_ms']:7.2f} ms  "
              f"server p99 {api['server_p99_ms'] or 0:6.2f} ms  {api['rps']:7.0f} req/s  "
              f"{api['cpu_us']:5.0f} us CPU/req"
              f"  err {api['errors']} | route only {route['rps']:7.0f} req/s  {route['cpu_us']:5.0f} us CPU/req"
              f" | bare p50 {bare_row['p50_ms']:7.2f} ms  p99 {bare_row['p99_ms']:7.2f} ms  "
              f"{bare_row['rps']:7.0f} req/s  {bare_row['cpu_us']:5.0f} us CPU/req | throughput ratio "
              f"{rows[-1]['ratio']:.2f}, CPU ratio {rows[-1]['cpu_ratio']:.2f} (route only "
              f"{rows[-1]['route_cpu_ratio']:.2f})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from tests.harness import RedisProcess, free_port, publish_real_catalog, start_uvicorn, stop_process

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per point")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50, 200])
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one")
    parser.add_argument("--pin", action="store_true",
                        help="servers and Redis on CPU 0, this client on the other CPUs (less scheduler noise)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: total requests/s shared by the clients (default: closed loop)")
    args = parser.parse_args(argv)
    redis_proc = None if args.redis_url else RedisProcess().start()
    redis_url = args.redis_url or (redis_proc.url if redis_proc else "")
    procs = []
    try:
        published = publish_real_catalog(redis_url)
        print(f"catalog version {published.get('version')} published to {redis_url}")
        ports = {name: free_port() for name in ("api", "route", "bare")}
        env = {"AGENTLOAD_REDIS_URL": redis_url}
        procs.append(start_uvicorn("agentload.api.app:app", ports["api"], env))
        procs.append(start_uvicorn("agentload.api.app:app", ports["route"], {**env, "AGENTLOAD_HOT_PATH": "false"}))
        body_file = Path(tempfile.mkdtemp()) / "hot.json"
        body_file.write_bytes(httpx.get(f"http://127.0.0.1:{ports['api']}/api/v1/agents/optimized-loading?"
                                        f"{HOT_QUERY}").content)
        procs.append(start_uvicorn("api_read_path:bare", ports["bare"], {**env, "AGENTLOAD_BENCH_BODY": str(body_file)},
                                   app_dir=str(Path(__file__).parent), ready_path="/bare"))
        print(f"bare app answers the hot selection's own {body_file.stat().st_size} bytes")
        if args.pin and len(os.sched_getaffinity(0)) > 1:
            cpus = sorted(os.sched_getaffinity(0))
            for pid in [p.pid for p in procs] + ([redis_proc.proc.pid] if redis_proc and redis_proc.proc else []):
                os.sched_setaffinity(pid, {cpus[0]})
            os.sched_setaffinity(0, set(cpus[1:]))
        mode = f"open loop at {args.rate:g} req/s in total" if args.rate else "closed loop (as fast as possible)"
        print(f"{mode}; {args.duration:g} s per point after {args.warmup:g} s warm-up")
        bases = {name: (f"http://127.0.0.1:{port}", proc.pid)
                 for (name, port), proc in zip(ports.items(), procs, strict=True)}
        rows = asyncio.run(run(args, bases, redis_url))
    finally:
        for proc in procs:
            stop_process(proc)
        if redis_proc is not None:
            redis_proc.stop()
    at50 = next((r for r in rows if r["clients"] == 50), None)
    if at50 is not None:
        print(f"targets @50 clients: selection p99 {at50['api']['p99_ms']:.2f} ms (target < 10 ms, "
              f"server-side {at50['api']['server_p99_ms'] or 0:.2f} ms); throughput ratio "
              f"{at50['ratio']:.2f} (target >= 0.70; this one client process may be the limit: see the bare "
              f"app's own figure); server CPU per request {at50['cpu_ratio']:.2f}x the bare app's (target <= 1.5x; "
              f"route only {at50['route_cpu_ratio']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
