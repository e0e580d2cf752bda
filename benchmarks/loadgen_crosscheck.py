"""Cross-check our load generator against Locust: same API, same requests, same rate.

Starts a private Redis, publishes the bundled catalog and serves the real API with uvicorn on
a free loopback port. Then, one after the other (never together: they would share the CPUs),
drives the selection endpoint with every structured context of the published catalog at the
same total rate with the same number of users:

* ``agentload.measure.loadgen`` (open model, HDR histograms);
* Locust headless (``locust -f <generated locustfile> --headless -u N -r N --run-time T``),
  each user sending once per period ``users / rate``. Locust's ``constant_throughput``
  anchors every user's period at its spawn time; the users of a spawn batch start together,
  so their periods are in phase and every period opens with a burst of N simultaneous
  requests (measured: 78 % of gaps between sends under 1 ms). The API then queues (its own
  p50 triples at 100-200 req/s) and the two tools would measure different traffic instead of
  disagreeing about the same one. The generated users therefore keep their own schedule,
  user k sending at ``k / rate + n * period``: evenly spread, the arrival pattern of the open
  model. Locust rounds the response times
  it aggregates to whole milliseconds below 100 ms, too coarse for a read path of a few ms,
  so the generated locustfile also records every exact response time and the percentiles
  below come from those; Locust's own CSV figures are printed alongside.

Locust measures from the moment a request is actually sent (closed loop), so it is compared
with our ``service_time`` (from actual send); our ``latency`` (from the intended send time)
is shown too: at a rate the server keeps up with, the two are the same. Target: p50, p99 and
throughput within 15 %.

At sub-millisecond server times the tools' own client-side cost decides that ratio, so
``--floor`` adds a third run with no client library at all (blocking sockets, requests
built in advance, same users, rate and queries): the lowest time a client can measure
here, showing which tool the gap belongs to.

    .venv/bin/python benchmarks/loadgen_crosscheck.py [--rate 100] [--users 10] [--duration 10] [--client aiohttp]
                                                      [--floor]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import table

TOLERANCE = 0.15
LOCUSTFILE = '''
import json, time
from pathlib import Path
import gevent
from locust import FastHttpUser, events, task

QUERIES = json.loads(Path({queries!r}).read_text())
SAMPLES = []


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception, **kwargs):
    if exception is None:
        SAMPLES.append(response_time)


@events.test_stop.add_listener
def dump(environment, **kwargs):
    Path({samples!r}).write_text(json.dumps(SAMPLES))


class Reader(FastHttpUser):
    """Paced like an open model: user k sends at k / rate + n * period (users spread over a period)."""

    seq = 0
    started = 0

    def on_start(self):
        Reader.started += 1
        self.due = time.perf_counter() + (Reader.started - 1) % {users!r} / {rate!r}
        gevent.sleep(max(0.0, self.due - time.perf_counter()))

    def wait_time(self):
        self.due += {period!r}
        return max(0.0, self.due - time.perf_counter())

    @task
    def read(self):
        Reader.seq += 1
        self.client.get("/api/v1/agents/optimized-loading?" + QUERIES[Reader.seq % len(QUERIES)],
                        name="selection")
'''


SELECTION_ROUTE = "GET /api/v1/agents/optimized-loading"


def server_hist(r: Any) -> dict[str, int]:
    """The API's own latency histogram of the selection route (``livestats``), cumulative."""
    from agentload import keys

    return {(k.decode() if isinstance(k, bytes) else k): int(v)
            for k, v in r.hgetall(keys.latency_key(SELECTION_ROUTE)).items()}


def server_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """Server-side p50/p99 of the requests between two histogram reads (bucket resolution)."""
    from agentload.api.livestats import summarize

    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    out = summarize(delta, delta.get("sum_us", 0))
    return {"p50_ms": float(out.get("p50_ms") or 0.0), "p99_ms": float(out.get("p99_ms") or 0.0)}


def ours(base_url: str, contexts: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    from agentload.measure.loadgen.runner import run_load_sync
    from agentload.measure.loadgen.scenarios import selection_reads
    from agentload.measure.loadgen.spec import LoadLimits, LoadSpec

    limits = LoadLimits(max_users=args.users, max_rate=args.rate, max_duration_s=args.duration + 5)
    spec = LoadSpec.with_limits(limits, base_url=base_url, users=args.users, rate=args.rate,
                                duration_s=args.duration, warmup_s=1.0)
    result = run_load_sync(spec, selection_reads(contexts), allowed_base_url=base_url, http_client=args.client)
    return {"p50_ms": result.service_time.p50, "p99_ms": result.service_time.p99,
            "throughput_rps": result.throughput_rps, "requests": float(result.completed),
            "errors": float(result.error_count), "latency_p50_ms": result.latency.p50,
            "latency_p99_ms": result.latency.p99, "lag_p50_ms": result.send_lag.p50,
            "lag_p99_ms": result.send_lag.p99}


def locust(base_url: str, contexts: list[dict[str, Any]], args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    from urllib.parse import urlencode

    from agentload.measure.loadgen.scenarios import context_params

    queries = tmp / "queries.json"
    samples = tmp / "samples.json"
    queries.write_text(json.dumps([urlencode(context_params(c)) for c in contexts]))
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(queries=str(queries), samples=str(samples), users=args.users,
                                            rate=args.rate, period=args.users / args.rate))
    run_time = math.ceil(args.duration + 1)  # + the spawn second; whole seconds
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(locustfile), "--headless", "-u", str(args.users),
           "-r", str(args.users), "--run-time", f"{run_time}s", "--host", base_url, "--csv", str(tmp / "locust"),
           "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=run_time + 60, check=False)
    if not samples.exists():
        raise RuntimeError(f"locust produced no samples (exit {done.returncode}): {done.stderr[-2000:]}")
    with (tmp / "locust_stats.csv").open() as fh:
        agg = next(row for row in csv.DictReader(fh) if row["Name"] == "Aggregated")
    exact = np.asarray(json.loads(samples.read_text()), dtype=float)
    return {"p50_ms": float(np.percentile(exact, 50)), "p99_ms": float(np.percentile(exact, 99)),
            "throughput_rps": float(agg["Requests/s"]), "requests": float(agg["Request Count"]),
            "errors": float(agg["Failure Count"]), "csv_p50_ms": float(agg["50%"]), "csv_p99_ms": float(agg["99%"])}


def _exchange(sock: socket.socket, request: bytes) -> None:
    """One request/response on a keep-alive socket (the API answers with Content-Length)."""
    sock.sendall(request)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536) or b"\0"
    head, _, body = buf.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        body += sock.recv(65536)


def floor(base_url: str, contexts: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    """Reference without a client library: blocking sockets, prebuilt requests, round-robin over users."""
    from urllib.parse import urlencode, urlsplit

    from agentload.measure.loadgen.scenarios import context_params

    parts = urlsplit(base_url)
    requests = [(f"GET /api/v1/agents/optimized-loading?{urlencode(context_params(c))} HTTP/1.1\r\n"
                 f"Host: {parts.netloc}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n").encode()
                for c in contexts]
    socks = [socket.create_connection((parts.hostname, parts.port)) for _ in range(args.users)]
    times = []
    try:
        warm, total = round(args.rate), round(args.rate * (args.duration + 1))
        start = time.perf_counter() + 0.01
        for i in range(total):
            time.sleep(max(0.0, start + i / args.rate - time.perf_counter()))
            sent = time.perf_counter()
            _exchange(socks[i % args.users], requests[i % len(requests)])
            if i >= warm:
                times.append((time.perf_counter() - sent) * 1000)
    finally:
        for sock in socks:
            sock.close()
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="total requests/s for both generators")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp",
                        help="our HTTP client: aiohttp (default) or httpx")
    parser.add_argument("--floor", action="store_true", help="also time a bare blocking-socket client (reference)")
    args = parser.parse_args(argv)

    import redis

    from agentload.measure.jobs.support import catalog_contexts
    from tests.harness import RedisProcess, free_port, publish_real_catalog, start_uvicorn, stop_process

    redis_proc = RedisProcess().start()
    api = None
    try:
        publish_real_catalog(redis_proc.url)
        contexts = catalog_contexts(redis.Redis.from_url(redis_proc.url))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        api = start_uvicorn("agentload.api.app:app", port, {"AGENTLOAD_REDIS_URL": redis_proc.url})
        print(f"API on {base_url}; {len(contexts)} contexts; {args.rate:g} req/s, {args.users} users, "
              f"{args.duration:g} s each; our client: {args.client}", flush=True)
        client = redis.Redis.from_url(redis_proc.url)
        h0 = server_hist(client)
        mine = ours(base_url, contexts, args)
        h1 = server_hist(client)
        with tempfile.TemporaryDirectory(prefix="agentload-locust-") as tmp:
            theirs = locust(base_url, contexts, args, Path(tmp))
        h2 = server_hist(client)
        server = (server_delta(h0, h1), server_delta(h1, h2))
        bare = floor(base_url, contexts, args) if args.floor else None
    finally:
        stop_process(api)
        redis_proc.stop()
    rows, worst = [], 0.0
    for key in ("p50_ms", "p99_ms", "throughput_rps"):
        ratio = mine[key] / theirs[key] if theirs[key] else float("nan")
        worst = max(worst, abs(ratio - 1))
        rows.append([key, f"{mine[key]:.3f}", f"{theirs[key]:.3f}", f"{ratio:.3f}"])
    rows.append(["requests", f"{mine['requests']:.0f}", f"{theirs['requests']:.0f}", ""])
    rows.append(["errors", f"{mine['errors']:.0f}", f"{theirs['errors']:.0f}", ""])
    print(table(["metric", "agentload", "locust", "ratio"], rows))
    print(f"server-side (API's own histogram, bucket resolution): during ours p50 {server[0]['p50_ms']:g} / "
          f"p99 {server[0]['p99_ms']:g} ms; during Locust p50 {server[1]['p50_ms']:g} / p99 {server[1]['p99_ms']:g} ms")
    print(f"our latency from intended send: p50 {mine['latency_p50_ms']:.3f} ms, p99 {mine['latency_p99_ms']:.3f} ms "
          f"(send lag p50 {mine['lag_p50_ms']:.3f} ms, p99 {mine['lag_p99_ms']:.3f} ms); "
          f"Locust CSV (rounded to whole ms): p50 {theirs['csv_p50_ms']:g} ms, p99 {theirs['csv_p99_ms']:g} ms")
    print(f"client-side share of p50 (client p50 - server p50): agentload "
          f"{mine['p50_ms'] - server[0]['p50_ms']:.2f} ms, locust {theirs['p50_ms'] - server[1]['p50_ms']:.2f} ms")
    if bare is not None:
        def above(tool: dict[str, float]) -> str:
            return f"p50 +{tool['p50_ms'] - bare['p50_ms']:.2f} / p99 +{tool['p99_ms'] - bare['p99_ms']:.2f} ms"

        print(f"floor (blocking sockets, no client library): p50 {bare['p50_ms']:.3f} ms, p99 {bare['p99_ms']:.3f} ms; "
              f"above it: agentload {above(mine)}, locust {above(theirs)}")
    ok = worst <= TOLERANCE
    print(f"largest deviation {worst:.1%} ({'within' if ok else 'OUTSIDE'} the {TOLERANCE:.0%} target)")
    return 0  # a measurement, not a test: the verdict is printed


if __name__ == "__main__":
    sys.exit(main())
