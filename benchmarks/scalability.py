"""Concurrent users on the hot selection read: step test, stress ramp and the knee.

Starts a private Redis, publishes the bundled catalog and starts the real API (uvicorn, one
worker process) on a free loopback port, then drives it with the open-model generator
(``agentload.measure.loadgen``): every virtual user reads selections of the catalog's own structured
contexts at ``--user-rate`` requests/s (a user with think time), so 200 users offer
200 x user-rate requests/s. Step test 1..200 users, then a stress ramp at a higher per-user
rate until errors > 1 % or p99 > 1 s, and the degradation analysis (knee, saturation).

    .venv/bin/python benchmarks/scalability.py [--user-rate 2] [--stress-rate 20] [--step 4]
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import table

STEPS = [1, 5, 10, 25, 50, 100, 200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--user-rate", type=float, default=2.0, help="requests/s per user (step test)")
    parser.add_argument("--stress-rate", type=float, default=20.0, help="requests/s per user (stress ramp)")
    parser.add_argument("--step", type=float, default=4.0, help="measured seconds per step")
    args = parser.parse_args(argv)

    import redis

    from agentload.measure.analysis import degradation_analysis
    from agentload.measure.jobs.support import catalog_contexts
    from agentload.measure.loadgen.scenarios import selection_reads
    from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
    from agentload.measure.loadgen.steps import step_test_sync, stress_ramp_sync
    from tests.harness import RedisProcess, free_port, publish_real_catalog, start_uvicorn, stop_process

    redis_proc = RedisProcess().start()
    api = None
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"AGENTLOAD_REDIS_URL": redis_proc.url, "AGENTLOAD_API_BASE_URL": base}
        os.environ.update(env)
        publish_real_catalog(redis_proc.url)
        api = start_uvicorn("agentload.api.app:app", port, env)
        contexts = catalog_contexts(redis.Redis.from_url(redis_proc.url))
        scenario = selection_reads(contexts)
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
        print(table(["run", "users", "offered req/s", "achieved req/s", "p50 ms", "p99 ms", "errors", "breach"],
                    rows))
        at200 = [r for r in rows if r[0] == "steps" and r[1] == 200]
        if at200:
            print(f"target: 200 users, 0 errors, p99 < 50 ms -> p99 {at200[0][5]} ms, errors {at200[0][6]}")
    finally:
        stop_process(api)
        redis_proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
