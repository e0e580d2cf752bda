"""Hot GET throughput with a client that is not the limit: Locust against the API and a bare app.

``api_read_path.py`` drives the servers with httpx from one Python process, which tops out
near 500-1,500 req/s here: at that rate it measures the client. This benchmark uses Locust's
``FastHttpUser`` (geventhttpclient, thousands of req/s per process) in the closed model the
acceptance names: 50 users, each sending its next request as soon as the answer came back.

Servers, each one uvicorn process on its own loopback port, on a private Redis holding the
bundled catalog:

* ``api``: the product (hot path on);
* ``route``: the product with ``AGENTLOAD_HOT_PATH=false`` (every request through FastAPI's route);
* ``bare``: a FastAPI app whose one route returns the hot answer's own bytes (same size on the
  wire), the ceiling of "FastAPI on uvicorn on this machine";
* ``api x2``: the product under ``python -m agentload.api.serve --workers 2``.

Runs alternate (api, route, bare, api x2, then again) so drift on a shared machine hits each
alike; each prints req/s, failures and the server's CPU per request (psutil, the process and
its children). The client's own ceilings come first: ``redis-benchmark`` GET at 50
connections (Redis is far from the limit) and the bare app's figure itself.

    .venv/bin/python benchmarks/api_throughput.py [--users 50] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (SIGTERM runs this script's cleanup: see _common)
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOT = "/api/v1/agents/optimized-loading?track=bmad-method&field_type=greenfield&phase=2&has_ui=true"
LOCUSTFILE = '''
import os
from locust import FastHttpUser, constant, task


class Hot(FastHttpUser):
    wait_time = constant(0)  # closed loop: the next request as soon as the answer is back

    @task
    def get(self) -> None:
        self.client.get(os.environ["BENCH_PATH"], name="hot")
'''


def locust(port: int, path: str, users: int, seconds: float, tmp: Path) -> tuple[float, int]:
    """(requests/s, failures) of one headless Locust run."""
    out = tmp / f"run-{port}-{os.urandom(3).hex()}"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("locust")), "-f", str(tmp / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--host", f"http://127.0.0.1:{port}",
         "--csv", str(out), "--only-summary", "--loglevel", "ERROR"],
        env={**os.environ, "BENCH_PATH": path}, capture_output=True, text=True, check=False)
    rows = list(csv.DictReader((out.parent / f"{out.name}_stats.csv").open())) if done.returncode in (0, 1) else []
    if not rows:
        raise RuntimeError(f"locust failed (exit {done.returncode}): {done.stderr[-1500:]}")
    return float(rows[0]["Requests/s"]), int(rows[0]["Failure Count"])


def cpu_seconds(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])


def redis_ceiling(port: int) -> float | None:
    """GET requests/s ``redis-benchmark`` reaches at 50 connections (None when not installed)."""
    if shutil.which("redis-benchmark") is None:
        return None
    done = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get", "-c", "50", "-n", "100000", "-q"],
                          capture_output=True, text=True, check=False)
    for part in done.stdout.replace("\r", "\n").split("\n"):
        if part.startswith("GET:") and "requests per second" in part:
            return float(part.split(":")[1].split("requests")[0].strip())
    return None


def main(argv: list[str] | None = None) -> int:
    from tests.harness import (
        RedisProcess,
        free_port,
        publish_real_catalog,
        start_uvicorn,
        stop_process,
        wait_http,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "locustfile.py").write_text(LOCUSTFILE)
    redis_proc = RedisProcess().start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        publish_real_catalog(redis_proc.url)
        env = {"AGENTLOAD_REDIS_URL": redis_proc.url}
        ports = {name: free_port() for name in ("api", "route", "bare", "api x2")}
        procs["api"] = start_uvicorn("agentload.api.app:app", ports["api"], env)
        procs["route"] = start_uvicorn("agentload.api.app:app", ports["route"], {**env, "AGENTLOAD_HOT_PATH": "false"})
        body = tmp / "hot.json"
        body.write_bytes(httpx.get(f"http://127.0.0.1:{ports['api']}{HOT}").content)
        procs["bare"] = start_uvicorn("api_read_path:bare", ports["bare"], {**env, "AGENTLOAD_BENCH_BODY": str(body)},
                                      app_dir=str(Path(__file__).parent), ready_path="/bare")
        procs["api x2"] = subprocess.Popen(
            [sys.executable, "-m", "agentload.api.serve", "--host", "127.0.0.1", "--port", str(ports["api x2"]),
             "--workers", "2", "--log-level", "warning"], env={**os.environ, **env})
        wait_http(f"http://127.0.0.1:{ports['api x2']}/healthz", proc=procs["api x2"])
        paths = {"api": HOT, "route": HOT, "bare": "/bare", "api x2": HOT}
        print(f"{os.cpu_count()} CPUs; Locust FastHttpUser, {args.users} users, closed loop, "
              f"{args.seconds:g} s per run; bare app answers the hot selection's own {body.stat().st_size} bytes")
        ceiling = redis_ceiling(redis_proc.port) or 0
        print(f"client ceilings: redis-benchmark GET at 50 connections {ceiling:,.0f} req/s; "
              "the bare app's row below is Locust's ceiling against FastAPI here")
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
        for round_no in range(1, args.rounds + 1):
            for name, path in paths.items():
                cpu0 = cpu_seconds(procs[name].pid)
                rps, failures = locust(ports[name], path, args.users, args.seconds, tmp)
                cpu_us = (cpu_seconds(procs[name].pid) - cpu0) / max(1.0, rps * args.seconds) * 1e6
                results[name].append({"rps": rps, "failures": failures, "cpu_us": cpu_us})
                print(f"round {round_no} {name:>6}: {rps:8.0f} req/s  {failures} failures  "
                      f"{cpu_us:5.0f} us server CPU/request", flush=True)
    finally:
        for proc in procs.values():
            stop_process(proc)
        redis_proc.stop()
    med = {name: {k: statistics.median(r[k] for r in rows) for k in ("rps", "cpu_us")}
           for name, rows in results.items()}
    print(f"median: api {med['api']['rps']:,.0f} req/s, route only {med['route']['rps']:,.0f}, bare "
          f"{med['bare']['rps']:,.0f}, api x2 {med['api x2']['rps']:,.0f}")
    print(f"throughput ratio to the bare app: api {med['api']['rps'] / med['bare']['rps']:.2f} (target >= 0.70), "
          f"route only {med['route']['rps'] / med['bare']['rps']:.2f}; "
          f"api x2 / api {med['api x2']['rps'] / med['api']['rps']:.2f}")
    print(f"server CPU per request vs the bare app: api {med['api']['cpu_us'] / med['bare']['cpu_us']:.2f}x "
          f"(target <= 1.5x), route only {med['route']['cpu_us'] / med['bare']['cpu_us']:.2f}x")
    return 0 if all(r["failures"] == 0 for rows in results.values() for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
