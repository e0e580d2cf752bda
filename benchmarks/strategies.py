"""Before/after benchmark in-process (no Celery): tokens, p50/p99, CPU and bytes per strategy.

Starts a private Redis, publishes the bundled catalog, starts the real API (uvicorn, one
worker) on a free loopback port and migrates a throwaway SQLite database; then calls the
benchmark *job function* (``agentload.measure.jobs.benchmark.run_benchmark``) directly, so the figures
are produced and stored exactly as the Celery job would. The workload is every structured
context of the catalog plus, when ``../shared/scenarios`` is present, the free-text requests
of its request suite. CPU per request is the API process's.

    .venv/bin/python benchmarks/strategies.py [--rate 100] [--duration 5] [--users 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import SCENARIOS_DIR, read_jsonl, table


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s per strategy")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per strategy")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--no-requests", action="store_true", help="structured contexts only")
    args = parser.parse_args(argv)

    from tests.harness import RedisProcess, free_port, publish_real_catalog, start_uvicorn, stop_process

    requests_file = SCENARIOS_DIR / "bmm-requests.jsonl"
    texts = [] if args.no_requests or not requests_file.exists() else [
        line["context"]["request"] for line in read_jsonl(requests_file) if line["context"].get("request")]
    redis_proc = RedisProcess().start()
    api = None
    with tempfile.TemporaryDirectory(prefix="agentload-strategies-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        port = free_port()
        env = {"AGENTLOAD_REDIS_URL": redis_proc.url, "AGENTLOAD_DATABASE_URL": db,
               "AGENTLOAD_API_BASE_URL": f"http://127.0.0.1:{port}"}
        os.environ.update(env)
        try:
            from agentload.settings import get_settings
            from models import migrate

            get_settings.cache_clear()
            migrate.upgrade(db)
            published = publish_real_catalog(redis_proc.url)
            api = start_uvicorn("agentload.api.app:app", port, env)
            from agentload.measure.jobs.benchmark import run_benchmark

            print(f"catalog {published.get('version')}; API pid {api.pid} on :{port}; "
                  f"{args.rate:g} req/s x {args.duration:g} s per strategy; {len(texts)} free-text requests",
                  flush=True)
            result = run_benchmark({"rate": args.rate, "duration_s": args.duration, "users": args.users,
                                    "requests": texts, "api_pid": api.pid, "warmup_s": 1.0},
                                   lambda meta: None)
        finally:
            stop_process(api)
            redis_proc.stop()
    rows = result["strategies"]
    print(table(["strategy", "tokens/request", "p50 ms", "p99 ms", "req/s", "errors", "CPU ms/req (api)",
                 "bytes/req"],
                [[r["strategy"], fmt(r.get("tokens_per_request"), ",.0f"), fmt(r.get("p50_ms"), ".2f"),
                  fmt(r.get("p99_ms"), ".2f"), fmt(r.get("throughput_rps"), ".1f"), fmt(r.get("error_rate"), ".2%"),
                  fmt(r.get("cpu_ms_per_request"), ".3f"), fmt(r.get("bytes_per_request"), ",.0f")] for r in rows]))
    by = {r["strategy"]: r for r in rows}
    if "full" in by and "selective" in by:
        full, sel = by["full"], by["selective"]
        print(f"workload {result['workload']} contexts; tokens per request {full['tokens_per_request']:,.0f} -> "
              f"{sel['tokens_per_request']:,.0f} ({1 - sel['tokens_per_request'] / full['tokens_per_request']:.1%} "
              f"fewer); status {result['status']}")
    for note in result.get("notes", []):
        print(f"note: {note}")
    return 0 if result["status"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
