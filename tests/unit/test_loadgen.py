"""The load generator against a REAL local HTTP server (uvicorn on a free 127.0.0.1 port).

Each test sends at most ~3 s of load, so the file stays fast on two cores.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from hdrh.histogram import HdrHistogram

from agentload.measure.analysis import degradation_analysis
from agentload.measure.loadgen.results import StepResult
from agentload.measure.loadgen.runner import run_load, run_load_sync
from agentload.measure.loadgen.scenarios import RequestSpec, Scenario
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
from agentload.measure.loadgen.steps import step_test, stress_ramp

LIMITS = LoadLimits(max_users=50, max_rate=500.0, max_duration_s=10.0)


def make_app() -> FastAPI:
    """/sleep waits ``ms``; /flaky fails every ``every``-th call per key; /stall stalls call ``at`` once."""
    app = FastAPI()
    calls: dict[str, int] = defaultdict(int)

    @app.get("/sleep")
    async def sleep(ms: float = 0.0) -> dict[str, float]:
        await asyncio.sleep(ms / 1000.0)
        return {"slept_ms": ms}

    @app.get("/flaky")
    async def flaky(key: str, every: int = 4) -> JSONResponse:
        calls[f"flaky:{key}"] += 1
        if calls[f"flaky:{key}"] % every == 0:
            return JSONResponse({"error": "injected"}, status_code=500)
        return JSONResponse({"ok": True})

    @app.get("/moved")
    async def moved() -> Response:
        return Response(status_code=302, headers={"location": "/sleep"})

    @app.get("/stall")
    async def stall(key: str, at: int, ms: float) -> dict[str, int]:
        calls[f"stall:{key}"] += 1
        if calls[f"stall:{key}"] == at:
            await asyncio.sleep(ms / 1000.0)
        return {"call": calls[f"stall:{key}"]}

    return app


@contextmanager
def serve(app: FastAPI, **options: Any) -> Iterator[str]:
    """``app`` on uvicorn in a thread on a free 127.0.0.1 port; yields its base URL (also used by the client tests)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(make_app()) as url:
        yield url


def get(path: str, params: list[tuple[str, str]], label: str = "req") -> Scenario:
    return Scenario(label, lambda user, seq: RequestSpec("GET", path, label, params=params))


def spec(base_url: str, **fields: object) -> LoadSpec:
    return LoadSpec.with_limits(LIMITS, base_url=base_url, **fields)


def test_given_rate_and_duration_when_running_then_sends_rate_times_duration(base_url: str) -> None:
    calls: list[tuple[float, int, int, int]] = []
    started = time.monotonic()

    result = run_load_sync(spec(base_url, users=10, rate=100, duration_s=2.0),
                           get("/sleep", [("ms", "1")], "fast"), progress_cb=lambda *a: calls.append(a))

    took = time.monotonic() - started
    assert abs(result.sent - 200) <= 20
    assert result.completed == result.sent == result.ok and result.errors == {}
    assert result.complete and result.dropped == 0 and result.error_rate == 0.0
    assert result.throughput_rps == pytest.approx(100, rel=0.1)
    assert 1.9 <= took < 15.0  # it stops by itself (a loaded 2-core machine stretches the drain: 6 s seen)
    assert result.bytes_received > 0
    assert sum(s.sent for s in result.timeseries) == result.sent
    assert 2 <= len(result.timeseries) <= 3
    assert 2 <= len(calls) <= 4 and calls[-1][1] == result.sent
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    json.loads(result.model_dump_json())


async def test_given_injected_sleep_when_running_then_percentiles_reflect_it(base_url: str) -> None:
    result = await run_load(spec(base_url, users=10, rate=40, duration_s=1.0), get("/sleep", [("ms", "50")]))

    lat = result.latency
    assert lat.count == 40
    assert 50 <= lat.min <= lat.p50 <= lat.p99 <= lat.max
    assert lat.p50 < 150
    assert result.per_label["req"].count == 40
    assert result.service_time.p50 >= 50


async def test_given_failing_server_when_running_then_errors_are_counted_by_kind(base_url: str) -> None:
    flaky = await run_load(spec(base_url, users=5, rate=40, duration_s=1.0),
                           get("/flaky", [("key", "errors"), ("every", "4")]))
    timeouts = await run_load(spec(base_url, users=5, rate=10, duration_s=0.5, timeout_s=0.2),
                              get("/sleep", [("ms", "1000")]))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    refused = await run_load(spec(f"http://127.0.0.1:{dead_port}", users=2, rate=10, duration_s=0.3),
                             get("/", []))

    moved = await run_load(spec(base_url, users=2, rate=20, duration_s=0.25), get("/moved", []))
    assert moved.errors == {"status_302": 5} and moved.ok == 0  # a redirect is not a success

    assert flaky.errors == {"status_500": 10}
    assert flaky.completed == 40 and flaky.ok == 30 and flaky.error_rate == pytest.approx(0.25)
    assert flaky.errors_per_label == {"req": 10}
    assert timeouts.errors == {"timeout": 5} and timeouts.completed == 0
    assert refused.errors == {"connection": 3} and refused.completed == 0
    assert refused.latency.count == 0


async def test_given_cancel_mid_run_when_running_then_result_is_partial(base_url: str) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.6, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        result = await run_load(spec(base_url, users=10, rate=50, duration_s=8.0),
                                get("/sleep", [("ms", "5")]), cancel_event=cancel)
    finally:
        timer.cancel()

    # stopped before the 8 s run would end, having sent only what was due before the cancel
    # (the time bound is loose: this machine is shared and noisy; the counts are the behaviour)
    assert time.monotonic() - started < 8.0
    assert result.complete is False
    assert 10 <= result.sent <= 50  # 0.6 s at 50 req/s is 30; a full run would send 400
    assert result.completed + result.cancelled + result.error_count == result.sent
    assert result.scheduled == result.sent


async def test_given_server_stall_when_running_then_queued_requests_include_the_wait(base_url: str) -> None:
    # one user at 50 req/s; call 20 stalls 300 ms. A closed loop would record ONE slow request;
    # an open model must also charge the ~14 requests that were due during the stall.
    result = await run_load(spec(base_url, users=1, rate=50, duration_s=1.5),
                            get("/stall", [("key", "co"), ("at", "20"), ("ms", "300")]))

    hist = HdrHistogram.decode(result.histogram_b64)
    slow = sum(i.count_at_value_iterated_to for i in hist.get_recorded_iterator()
               if i.value_iterated_to > 100_000)
    assert result.latency.count == 75
    assert result.latency.max >= 290
    assert slow >= 8
    assert result.latency.p90 >= 100
    assert result.service_time.p90 < 100  # what a closed-loop tool would have reported
    assert max(s.p99_ms or 0.0 for s in result.timeseries) >= 250


async def test_given_user_steps_when_step_testing_then_one_result_per_step(base_url: str) -> None:
    seen: list[StepResult] = []
    steps = await step_test(spec(base_url, users=1, rate=1, duration_s=1.0), get("/sleep", [("ms", "2")]),
                            users_steps=[1, 3], rate_per_user=20, step_duration_s=0.5, limits=LIMITS,
                            step_cb=seen.append)

    assert [(s.users, s.rate) for s in steps] == [(1, 20.0), (3, 60.0)]
    assert [s.result.sent for s in steps] == [10, 30]
    assert all(s.breach is None and s.result.complete for s in steps)
    assert seen == steps
    assert degradation_analysis(steps)["saturation_users"] == 3


async def test_given_slow_service_when_stress_ramping_then_stops_at_first_breach(base_url: str) -> None:
    steps = await stress_ramp(spec(base_url, users=1, rate=1, duration_s=1.0), get("/sleep", [("ms", "30")]),
                              users_steps=[1, 2, 4], rate_per_user=10, step_duration_s=0.5,
                              max_p99_ms=10.0, limits=LIMITS)

    assert len(steps) == 1
    assert steps[0].breach is not None and "p99" in steps[0].breach


def test_given_steps_beyond_limits_when_step_testing_then_rejected_before_sending() -> None:
    base = spec("http://127.0.0.1:9", users=1, rate=1, duration_s=1.0)
    with pytest.raises(ValueError, match="users=60 exceeds"):
        asyncio.run(step_test(base, get("/", []), users_steps=[1, 60], rate_per_user=1,
                              step_duration_s=1, limits=LIMITS))
