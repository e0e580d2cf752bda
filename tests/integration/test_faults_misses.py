"""Uncached requests are bounded (issue 14, fault 3): a flood of distinct free-text misses
from one client is refused with 429 past its per-minute budget, while other clients and
cached answers go on; past the cap on misses in flight every client gets 503. Both carry
``Retry-After``; nothing is enqueued or stored for a refused miss."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from agentload.api.app import create_app
from agentload.api.service import PENDING_TTL_S
from agentload.settings import Settings
from tests.harness import RedisProcess, publish_real_catalog

SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}
TOKEN = "misses-test-token-0123456789"


@pytest.fixture
def published(private_redis: RedisProcess) -> RedisProcess:
    publish_real_catalog(private_redis.url, force=True)
    return private_redis


def client(app: object, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(host, 40000)),  # type: ignore[arg-type]
                             base_url="http://test")


def inside_one_window(period_s: int, needed_s: float = 5.0) -> None:
    """Sleep past a window boundary if the next ``needed_s`` would cross one (the counters
    are per fixed window: minute per client, pending window for all)."""
    left = period_s - time.time() % period_s
    if left < needed_s:
        time.sleep(left + 0.05)


def queued(r: redis.Redis) -> int:
    return int(r.llen("default"))


async def test_given_one_client_flooding_distinct_misses_when_over_its_budget_then_429_and_others_unaffected(
    published: RedisProcess, tmp_path: Path
) -> None:
    settings = Settings(env="test", redis_url=published.url, miss_rate_per_client=5, api_token=TOKEN,
                        database_url=f"sqlite:///{tmp_path / 'db'}")
    app = create_app(settings)
    r = redis.Redis.from_url(published.url)
    inside_one_window(60)
    async with app.router.lifespan_context(app), client(app, "10.0.0.1") as flood, client(app, "10.0.0.2") as other:
        codes = [(await flood.get(SEL, params={"request": f"summarise incident report {i}"})).status_code
                 for i in range(8)]
        assert codes == [202] * 5 + [429] * 3
        refused = await flood.get(SEL, params={"request": "summarise incident report 99"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "uncached requests" in refused.json()["detail"]
        assert queued(r) == 5  # nothing was enqueued for the refused ones
        assert (await flood.get(SEL, params=HOT)).status_code == 200  # cached answers are not limited
        assert (await other.get(SEL, params={"request": "summarise incident report 1000"})).status_code == 202
        trusted = await flood.get(SEL, params={"request": "summarise incident report 2000"},
                                  headers={"Authorization": f"Bearer {TOKEN}"})
        assert trusted.status_code == 202  # a service with the API token is not limited per client
    r.close()


async def test_given_many_clients_when_misses_in_flight_exceed_the_cap_then_503_with_retry_after(
    published: RedisProcess, tmp_path: Path
) -> None:
    settings = Settings(env="test", redis_url=published.url, max_pending_misses=3,
                        database_url=f"sqlite:///{tmp_path / 'db'}")
    app = create_app(settings)
    inside_one_window(PENDING_TTL_S)
    async with app.router.lifespan_context(app):
        codes = []
        for i in range(5):
            async with client(app, f"10.0.1.{i}") as http:
                resp = await http.get(SEL, params={"request": f"plan load test number {i}"})
                codes.append(resp.status_code)
                if resp.status_code == 503:
                    assert "retry-after" in resp.headers and "being computed" in resp.json()["detail"]
        assert codes == [202, 202, 202, 503, 503]
