"""Misses handed to a real Celery worker by name: 202 -> worker computes -> poll -> 200.

The worker is the session's real prefork worker (``celery_worker``) reading the same Redis;
the API process never computes a selection, so every answer here was produced by it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from mcp import Client

from agentload.api.app import create_app
from agentload.mcp_server import AgentloadMCP
from agentload.settings import Settings
from tests.harness import publish_real_catalog

TOKEN = "test-token-0123456789abcdef"
SEL = "/api/v1/agents/optimized-loading"
# generous: a worker process's first free-text task builds its text index (embeds the catalog
# unless the machine's vector cache holds it); on a loaded 2-core machine that took > 30 s
POLL_TIMEOUT_S = 90.0


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(env="test", redis_url=redis_url, api_token=TOKEN, database_url=f"sqlite:///{tmp_path / 'db'}")


@pytest.fixture
async def http(settings: Settings, redis_client: redis.Redis, celery_worker: Any) -> AsyncIterator[httpx.AsyncClient]:
    publish_real_catalog(settings.redis_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as client:
        yield client


async def poll(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        state: dict[str, Any] = (await http.get(url)).json()
        if state["ready"]:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {url} not ready after {POLL_TIMEOUT_S}s: {state}")


async def test_given_a_miss_when_the_worker_computes_then_polling_succeeds_and_the_next_get_hits(
    http: httpx.AsyncClient,
) -> None:
    params = {"request": "help me write the product requirements for a payments feature"}
    miss = await http.get(SEL, params=params)
    assert miss.status_code == 202
    state = await poll(http, miss.json()["poll_url"])
    assert state["state"] == "SUCCESS", state
    assert state["result"]["stored"] is True
    hit = await http.get(miss.json()["status_url"])
    assert hit.status_code == 200
    assert hit.json()["cache"] == "hit" and hit.json()["agents"]


async def test_given_wait_ms_when_missing_then_the_selection_is_returned_once_computed(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.get(SEL, params={"request": "plan the sprint for our mobile checkout", "wait_ms": 5000})
    assert resp.status_code == 200, resp.text
    assert resp.json()["cache"] == "miss" and resp.json()["agents"]


async def test_given_a_context_when_preloading_then_the_task_caches_it(http: httpx.AsyncClient) -> None:
    context = {"request": "review the architecture of the data pipeline", "user_role": "architect"}
    resp = await http.post("/api/v1/agents/preload", json={"context": context, "user_id": "bob"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 202
    state = await poll(http, resp.json()["poll_url"])
    assert state["state"] == "SUCCESS", state
    assert (await http.get(SEL, params=context)).json()["cache"] == "hit"


async def test_given_a_miss_over_mcp_when_waiting_then_the_worker_answer_is_returned(
    settings: Settings, redis_client: redis.Redis, celery_worker: Any
) -> None:
    publish_real_catalog(settings.redis_url)
    mcp = AgentloadMCP(settings)
    async with Client(mcp.server) as client:
        pending = await client.call_tool("select_agents", {"request": "write user stories for search", "wait_ms": 0})
        waiting = json.loads(pending.content[0].text)  # type: ignore[union-attr]
        assert waiting["status"] == "pending" and waiting["task_id"]
        ready = await client.call_tool("select_agents", {"request": "write user stories for search",
                                                         "wait_ms": 5000})
        assert not ready.is_error
        answer = json.loads(ready.content[0].text)  # type: ignore[union-attr]
        assert answer["status"] == "ready" and answer["agents"]
