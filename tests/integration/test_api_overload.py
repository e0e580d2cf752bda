"""Overload is not a Redis outage (issue 17): what a busy API process answers, for real.

Three ways a process runs out of room while Redis is healthy, each answered 503 "overloaded"
with ``Retry-After`` and counted as ``agentload_http_refused_total{cause="overloaded"}``, or
served late but served; and a real Redis outage, which still says Redis:

* every connection of its Redis pool checked out (the real ``BlockingConnectionPool``);
* more requests in flight than ``api_limit_concurrency`` (clients that are slow to send);
* an event loop that comes back to the socket after the Redis timeout (a busy process): the
  hot path's replies were there and are served; a route's read that timed out meanwhile is
  answered "overloaded", not "Redis is unavailable: timed out".

A Redis that is stopped or frozen is still blamed, and counted as ``redis_unavailable``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import redis

from agentload.api.app import create_app
from agentload.settings import Settings
from tests.harness import RedisProcess, publish_real_catalog

TOKEN = "test-token-0123456789abcdef"
SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}
OVERLOADED = 'agentload_http_refused_total{cause="overloaded"}'
REDIS_DOWN = 'agentload_http_refused_total{cause="redis_unavailable"}'


def _settings(server: RedisProcess, tmp_path: Path, **extra: object) -> Settings:
    return Settings(env="test", redis_url=server.url, api_token=TOKEN, database_url=f"sqlite:///{tmp_path / 'db'}",
                    **extra)


def _counted(metrics: str, counter: str) -> float:
    line = next((x for x in metrics.splitlines() if x.startswith(counter + " ")), f"{counter} 0")
    return float(line.rsplit(" ", 1)[1])


async def test_given_every_pooled_connection_checked_out_when_a_request_needs_redis_then_overloaded_not_outage(
    private_redis: RedisProcess, tmp_path: Path,
) -> None:
    publish_real_catalog(private_redis.url)
    app = create_app(_settings(private_redis, tmp_path))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get("/api/v1/agents/pm")).status_code == 200
        pool = app.state.runtime.redis.connection_pool
        held = [await pool.get_connection() for _ in range(pool.max_connections)]  # real connections, all busy
        try:
            busy = await http.get("/api/v1/agents/pm")
            unready = await http.get("/readyz")
            assert redis.Redis(port=private_redis.port).ping()  # Redis itself answers all along
        finally:
            for connection in held:
                await pool.release(connection)
        assert busy.status_code == 503 and busy.json()["detail"].startswith("overloaded"), busy.text
        assert busy.headers["retry-after"] == "1"
        assert unready.status_code == 503 and unready.json()["detail"].startswith("overloaded"), unready.text
        assert unready.json()["redis"] == "ok"
        assert (await http.get("/api/v1/agents/pm")).status_code == 200  # connections back: served again

        private_redis.stop()  # a real outage still says Redis
        down = await http.get("/api/v1/agents/pm")
        assert down.status_code == 503 and down.json()["detail"].startswith("Redis is unavailable"), down.text
        metrics = (await http.get("/metrics")).text
        assert (_counted(metrics, OVERLOADED), _counted(metrics, REDIS_DOWN)) == (1, 1)


async def test_given_more_requests_in_flight_than_the_limit_when_another_arrives_then_overloaded_at_once(
    private_redis: RedisProcess, tmp_path: Path,
) -> None:
    publish_real_catalog(private_redis.url)
    app = create_app(_settings(private_redis, tmp_path, api_limit_concurrency=2))
    release = asyncio.Event()
    started: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]

    def slow_body(n: int) -> AsyncIterator[bytes]:  # a client that sends its body when told
        async def chunks() -> AsyncIterator[bytes]:
            started[n].set()
            await release.wait()
            yield b"{}"
        return chunks()

    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200
        slow = [asyncio.create_task(http.post("/api/v1/agents/preload", content=slow_body(n), headers=auth))
                for n in range(2)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 10)  # both inside the app
        refused = await http.get(SEL, params=HOT)
        live = await http.get("/healthz")
        release.set()
        answered = await asyncio.gather(*slow)
        assert refused.status_code == 503 and refused.json()["detail"].startswith("overloaded"), refused.text
        assert refused.headers["retry-after"] == "1"
        assert live.status_code == 200  # liveness is never refused
        assert [r.status_code for r in answered] == [422, 422]  # the slow ones were served (an empty context)
        assert (await http.get(SEL, params=HOT)).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert (_counted(metrics, OVERLOADED), _counted(metrics, REDIS_DOWN)) == (1, 0)


async def test_given_the_process_busy_past_the_redis_timeout_when_a_hot_read_waits_then_it_is_served(
    private_redis: RedisProcess, tmp_path: Path,
) -> None:
    publish_real_catalog(private_redis.url)
    app = create_app(_settings(private_redis, tmp_path))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200  # memos warm: the next read is one call
        link = app.state.runtime.link
        reads = [asyncio.create_task(http.get(SEL, params=HOT)) for _ in range(5)]
        deadline = time.monotonic() + 10
        while link.pending < len(reads) and time.monotonic() < deadline:
            await asyncio.sleep(0)
        assert link.pending == len(reads)  # every read waits for its Redis reply
        time.sleep(1.5)  # this process does not come back to its loop within the 1 s Redis timeout
        answers = await asyncio.gather(*reads)
        assert [a.status_code for a in answers] == [200] * len(reads), answers[0].text
        assert _counted((await http.get("/metrics")).text, REDIS_DOWN) == 0


async def test_given_the_process_busy_past_the_redis_timeout_when_routes_wait_on_redis_then_overloaded_not_outage(
    private_redis: RedisProcess, tmp_path: Path,
) -> None:
    """Through redis-py (every route but the hot path): a read that timed out while this
    process's loop ran late is answered "overloaded", never "Redis is unavailable"."""
    publish_real_catalog(private_redis.url)
    app = create_app(_settings(private_redis, tmp_path, hot_path=False))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200
        pool = app.state.runtime.redis.connection_pool
        reads = [asyncio.create_task(http.get(SEL, params=HOT)) for _ in range(10)]
        deadline = time.monotonic() + 10
        while len(pool._in_use_connections) < len(reads) and time.monotonic() < deadline:
            await asyncio.sleep(0)  # until every read holds a connection: its command is on the way
        time.sleep(1.5)  # this process does not come back to its loop within the 1 s Redis timeout
        answers = await asyncio.gather(*reads)
        refused = [a for a in answers if a.status_code != 200]
        assert all(a.status_code == 503 and a.json()["detail"].startswith("overloaded") for a in refused), \
            [a.text for a in refused]
        assert redis.Redis(port=private_redis.port).ping()
        metrics = (await http.get("/metrics")).text
        assert (_counted(metrics, OVERLOADED), _counted(metrics, REDIS_DOWN)) == (len(refused), 0)


async def test_given_a_frozen_redis_when_requests_wait_then_redis_is_blamed_not_overload(
    private_redis: RedisProcess, tmp_path: Path,
) -> None:
    """The other side: Redis stops answering (SIGSTOP) while this process is idle; the hot
    path and the routes both say Redis timed out, counted as ``redis_unavailable``."""
    publish_real_catalog(private_redis.url)
    app = create_app(_settings(private_redis, tmp_path))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200
        assert (await http.get("/api/v1/agents/pm")).status_code == 200
        assert private_redis.proc is not None
        os.kill(private_redis.proc.pid, signal.SIGSTOP)
        try:
            answers = [await http.get(SEL, params=HOT), await http.get("/api/v1/agents/pm")]
        finally:
            os.kill(private_redis.proc.pid, signal.SIGCONT)
        assert [(a.status_code, a.json()["detail"]) for a in answers] == [(503, "Redis is unavailable: timed out")] * 2
        metrics = (await http.get("/metrics")).text
        assert (_counted(metrics, OVERLOADED), _counted(metrics, REDIS_DOWN)) == (0, 2)
