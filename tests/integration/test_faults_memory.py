"""Redis memory faults, caused for real on a private ``redis-server`` (issue 14, faults 1-2).

1. An evicting policy (``allkeys-lru``) under memory pressure drops keys of the live version:
   readiness must say so (and ask for a refresh) instead of serving 404s, and the next
   refresh must republish the version although no file changed.
2. ``noeviction`` and full: reads keep answering (the counting script runs with
   ``allow-oom``); what needs a new key (a free-text miss) answers 503 with ``Retry-After``,
   never 500.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from agentload import keys
from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.reader.integrity import missing_keys
from agentload.settings import Settings, get_settings
from tests.harness import RedisProcess

SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}
TOKEN = "test-token-0123456789abcdef"
CURRENT = keys.CURRENT_VERSION


def settings_for(url: str, tmp_path: Path) -> Settings:
    return get_settings().model_copy(update={"redis_url": url, "env": "test", "api_token": TOKEN,
                                             "database_url": f"sqlite:///{tmp_path / 'db'}"})


def fill(r: redis.Redis, n: int, size: int = 10_000) -> None:
    """Write ``n`` filler keys of ``size`` bytes (the pressure an unbounded cache would add)
    while requests keep reading the version pointer, as live traffic does."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"filler:{i}", b"x" * size)
        if i % 50 == 49:
            pipe.get(CURRENT)
            pipe.execute()
    pipe.execute()


async def test_given_evicting_policy_when_pressure_evicts_live_keys_then_not_ready_and_refresh_republishes(
    private_redis: RedisProcess, tmp_path: Path
) -> None:
    settings = settings_for(private_redis.url, tmp_path)
    r = redis.Redis.from_url(private_redis.url)
    state = WorkerState()
    first = refresh_catalog(r, settings, state, force=True)
    version = first["version"]
    assert first["published"] and missing_keys(r, version) == 0

    time.sleep(2.1)  # Redis's LRU clock ticks once a second: the catalog is now older than new writes
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", used + 1_000_000)
    fill(r, 200)  # 2 MB into a 1 MB margin: the least recently used keys go, the catalog's among them
    lost = missing_keys(r, version)
    assert lost > 0 and r.get(CURRENT) is not None  # the pointer still names the half version

    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "incomplete" in ready.json()["detail"], ready.text
        assert ready.headers["retry-after"] == "5" and ready.json()["refresh"]["task_id"]

        r.delete(*[k for k in r.scan_iter("filler:*", count=1000)])
        r.config_set("maxmemory", 0)  # the operator gives Redis room; the policy is still evicting
        # the API's own writes above (the refresh task it enqueued) could evict more, the version's
        # index set among them: the repair is checked against what is missing now
        gone = missing_keys(r, version)
        assert gone > 0
        repaired = refresh_catalog(r, settings, state)  # what beat's next tick runs: no file changed
        assert repaired["published"] and repaired["repaired_missing_keys"] == gone
        assert "allkeys-lru" in repaired["redis_warning"]
        assert missing_keys(r, repaired["version"]) == 0

        ready = await http.get("/readyz")
        assert ready.status_code == 200 and "allkeys-lru" in ready.json()["redis_warning"]
        agent = await http.get("/api/v1/agents/pm", headers={"Authorization": f"Bearer {TOKEN}"})
        assert agent.status_code == 200
        assert (await http.get(SEL, params=HOT)).status_code == 200
    again = refresh_catalog(r, settings, state)  # whole again: nothing to do
    assert again["changed"] is False and "repaired_missing_keys" not in again
    r.close()


async def test_given_noeviction_redis_full_when_requests_arrive_then_reads_served_and_writes_503(
    private_redis: RedisProcess, tmp_path: Path
) -> None:
    settings = settings_for(private_redis.url, tmp_path)
    r = redis.Redis.from_url(private_redis.url)
    assert refresh_catalog(r, settings, WorkerState(), force=True)["published"]
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory", max(1, int(r.info("memory")["used_memory"]) - 100_000))
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            r.set("probe", "x")  # Redis really is full

        hit = await http.get(SEL, params=HOT)
        assert hit.status_code == 200 and hit.json()["cache"] == "hit"  # reads keep working
        for i in range(5):  # distinct free-text misses: each would store a marker and a task
            miss = await http.get(SEL, params={"request": f"draft release notes for build {i}"})
            assert miss.status_code == 503, miss.text
            assert miss.headers["retry-after"] == "5" and "out of memory" in miss.json()["detail"]
            assert "Traceback" not in miss.text and "127.0.0.1" not in miss.text
        r.config_set("maxmemory", 0)
        recovered = await http.get(SEL, params={"request": "draft release notes for build 0"})
        assert recovered.status_code == 202  # enqueued now that there is room
    r.close()
