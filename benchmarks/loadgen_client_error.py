"""The load generator's own error: how much its HTTP client adds to the latencies it reports.

Starts a private Redis, publishes the bundled catalog and serves the real API with uvicorn on
a free loopback port, then drives the selection endpoint with every structured context of the
catalog, one run after the other: a raw-socket floor (blocking sockets, requests built in
advance, no client library: ``loadgen_crosscheck.floor``), then the generator with each of its
clients. Each client's error is its service time (from actual send) minus the floor's, p50 and
p99, taken per round (the floor ran just before, on the same server) and reported as the
median over the rounds. The budget is 1 ms at p50; the figures are quoted in
``agentload/measure/loadgen/clients.py``.

    .venv/bin/python benchmarks/loadgen_client_error.py [--rates 20,100,200,400] [--users 10]
                                                        [--duration 5] [--rounds 3] [--clients aiohttp,httpx]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from _common import table
from loadgen_crosscheck import floor

BUDGET_MS = 1.0


def run_client(base_url: str, contexts: list[dict[str, Any]], rate: float, args: argparse.Namespace,
               client: str) -> dict[str, float]:
    from agentload.measure.loadgen.runner import run_load_sync
    from agentload.measure.loadgen.scenarios import selection_reads
    from agentload.measure.loadgen.spec import LoadLimits, LoadSpec

    limits = LoadLimits(max_users=args.users, max_rate=rate, max_duration_s=args.duration + 5)
    spec = LoadSpec.with_limits(limits, base_url=base_url, users=args.users, rate=rate,
                                duration_s=args.duration, warmup_s=1.0)
    result = run_load_sync(spec, selection_reads(contexts), allowed_base_url=base_url,
                           http_client=client)  # type: ignore[arg-type]
    if result.error_count:
        raise RuntimeError(f"{client} at {rate:g}/s: {result.errors}")
    return {"p50_ms": result.service_time.p50, "p99_ms": result.service_time.p99}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="20,100,200,400", help="requests/s, comma-separated")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="aiohttp,httpx")
    args = parser.parse_args(argv)
    clients = args.clients.split(",")

    import redis

    from agentload.measure.jobs.support import catalog_contexts
    from tests.harness import RedisProcess, free_port, publish_real_catalog, start_uvicorn, stop_process

    redis_proc = RedisProcess().start()
    api = None
    rows = []
    try:
        publish_real_catalog(redis_proc.url)
        contexts = catalog_contexts(redis.Redis.from_url(redis_proc.url))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        api = start_uvicorn("agentload.api.app:app", port, {"AGENTLOAD_REDIS_URL": redis_proc.url})
        for rate in (float(r) for r in args.rates.split(",")):
            rounds = []
            for _ in range(args.rounds):
                bare = floor(base_url, contexts, argparse.Namespace(users=args.users, rate=rate,
                                                                    duration=args.duration))
                rounds.append({"floor": bare, **{c: run_client(base_url, contexts, rate, args, c) for c in clients}})
            row = [f"{rate:g}", f"{statistics.median(r['floor']['p50_ms'] for r in rounds):.2f}",
                   f"{statistics.median(r['floor']['p99_ms'] for r in rounds):.2f}"]
            for client in clients:
                d50 = statistics.median(r[client]["p50_ms"] - r["floor"]["p50_ms"] for r in rounds)
                d99 = statistics.median(r[client]["p99_ms"] - r["floor"]["p99_ms"] for r in rounds)
                row.append(f"{d50:+.2f} / {d99:+.2f}" + ("" if d50 < BUDGET_MS else " (over budget)"))
            rows.append(row)
            print(f"rate {rate:g}/s done", file=sys.stderr, flush=True)
    finally:
        stop_process(api)
        redis_proc.stop()
    print(f"{args.users} users, {args.duration:g} s per run, median of {args.rounds} rounds; "
          f"client columns: ms above the floor, p50 / p99 (budget {BUDGET_MS:g} ms at p50)")
    print(table(["rate/s", "floor p50 ms", "floor p99 ms", *clients], rows))
    return 0  # a measurement, not a test: the verdict is printed


if __name__ == "__main__":
    sys.exit(main())
