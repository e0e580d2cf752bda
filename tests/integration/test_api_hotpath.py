"""The hot path (``api.hotpath``) answers exactly what the route answers, counts each lookup once,
and hands everything else to the route: real Redis, the real catalog, two apps side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from agentload import keys
from agentload.api.app import create_app
from agentload.api.redislink import open_link
from tests.harness import publish_real_catalog
from tests.integration.test_api import AUTH, SEL, api_settings

CONTEXTS: list[dict[str, Any]] = [
    {"track": "bmad-method", "field_type": "greenfield", "phase": 2},
    {"track": "bmad-method", "field_type": "greenfield", "phase": 2, "has_ui": "true"},
    {"track": "bmad-method", "field_type": "brownfield", "phase": 4, "user_id": "u-1"},
    {"next_workflow": "create-architecture"},
    {"workflow_history": ["prd", "create-architecture"], "track": "bmad-method"},
]


@pytest.fixture
async def pair(redis_url: str, tmp_path: Path, redis_client: redis.Redis,
               ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Two apps on the same Redis and catalog version: with and without the hot path."""
    publish_real_catalog(redis_url)
    clients: dict[str, httpx.AsyncClient] = {}
    apps = {"hot": create_app(api_settings(redis_url, tmp_path)),
            "route": create_app(api_settings(redis_url, tmp_path, hot_path=False))}
    async with apps["hot"].router.lifespan_context(apps["hot"]), \
            apps["route"].router.lifespan_context(apps["route"]):
        for name, app in apps.items():
            clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")
        try:
            yield clients
        finally:
            for client in clients.values():
                await client.aclose()


def hot_counts(metrics: str) -> dict[str, float]:
    found = {}
    for line in metrics.splitlines():
        if line.startswith("agentload_hot_path_total{"):
            outcome = line.split('outcome="')[1].split('"')[0]
            found[outcome] = float(line.rsplit(" ", 1)[1])
    return found


def selection_stats(client: redis.Redis) -> dict[str, int]:
    raw: dict[Any, Any] = client.hgetall(keys.stats_key("selections"))  # type: ignore[assignment]
    named = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
    return {k: v for k, v in named.items() if k in ("hits", "misses")}


async def test_given_cached_contexts_when_both_paths_answer_then_bytes_headers_and_counts_agree(
    pair: dict[str, httpx.AsyncClient], redis_client: redis.Redis
) -> None:
    for params in CONTEXTS:
        answers = {}
        for name in ("route", "hot", "hot"):  # the hot path's second answer comes from its memo
            before = selection_stats(redis_client)
            answers[name] = await pair[name].get(SEL, params=params)
            after = selection_stats(redis_client)
            assert answers[name].status_code == 200, (params, answers[name].text)
            assert after.get("hits", 0) == before.get("hits", 0) + 1 and after.get("misses") == before.get("misses")
        assert answers["hot"].content == answers["route"].content, params
        assert answers["hot"].headers["x-delivered-tokens"] == answers["route"].headers["x-delivered-tokens"]
        assert answers["hot"].headers["content-type"] == "application/json"
    metrics = hot_counts((await pair["hot"].get("/metrics")).text)
    assert metrics["served"] == 2 * len(CONTEXTS) and metrics.get("declined", 0) == 0
    assert not hot_counts((await pair["route"].get("/metrics")).text)  # no samples: it never ran


async def test_given_strategy_full_when_flag_flips_then_the_hot_path_follows_it_both_ways(
    pair: dict[str, httpx.AsyncClient],
) -> None:
    params = CONTEXTS[0]
    selective = (await pair["hot"].get(SEL, params=params)).json()
    assert (await pair["hot"].put("/api/v1/flags/strategy", json={"strategy": "full"}, headers=AUTH)).status_code == 200
    full = (await pair["hot"].get(SEL, params=params)).json()
    reference = (await pair["route"].get(SEL, params=params)).json()
    assert full == reference and full["strategy"] == "full" and len(full["agents"]) > len(selective["agents"])
    await pair["hot"].put("/api/v1/flags/strategy", json={"strategy": "selective"}, headers=AUTH)
    assert (await pair["hot"].get(SEL, params=params)).json() == selective


async def test_given_what_is_not_a_plain_hit_when_asked_then_the_route_answers_and_counts_once(
    pair: dict[str, httpx.AsyncClient], redis_client: redis.Redis
) -> None:
    before = selection_stats(redis_client)
    miss = await pair["hot"].get(SEL, params={"request": "an uncached free-text ask about release notes"})
    assert miss.status_code == 202 and "poll_url" in miss.json()
    after = selection_stats(redis_client)
    assert after.get("misses", 0) == before.get("misses", 0) + 1  # the probe did not count it
    for refused, status in (({"has_ui": "maybe"}, 422), ({"next_workflow": "not-a-workflow"}, 404)):
        hot, route = await pair["hot"].get(SEL, params=refused), await pair["route"].get(SEL, params=refused)
        assert hot.status_code == route.status_code == status and hot.content == route.content
    assert (await pair["hot"].get(SEL)).json()["status"] == "ready"  # the loader status
    full = await pair["hot"].get(SEL, params={**CONTEXTS[0], "include": "full"})
    assert full.status_code == 200 and all(a["text"] for a in full.json()["agents"])
    metrics = hot_counts((await pair["hot"].get("/metrics")).text)
    assert metrics["declined"] == 5 and metrics.get("served", 0) == 0


async def test_given_a_new_version_when_published_then_the_next_answer_is_the_new_one(
    pair: dict[str, httpx.AsyncClient], redis_url: str
) -> None:
    params = CONTEXTS[1]
    first = (await pair["hot"].get(SEL, params=params)).json()
    fresh = publish_real_catalog(redis_url, force=True)
    assert fresh["version"] != first["version"]
    second = (await pair["hot"].get(SEL, params=params)).json()  # declined once: the route re-resolves
    third = await pair["hot"].get(SEL, params=params)  # served again, from the new version
    assert second["version"] == third.json()["version"] == fresh["version"]
    assert third.content == (await pair["route"].get(SEL, params=params)).content


async def test_given_redis_gone_when_asked_then_the_answer_is_the_routes_503(
    private_redis: Any, tmp_path: Path
) -> None:
    publish_real_catalog(private_redis.url)
    app = create_app(api_settings(private_redis.url, tmp_path))
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=CONTEXTS[0])).status_code == 200
        private_redis.stop()
        down = await http.get(SEL, params=CONTEXTS[0])
        assert down.status_code == 503 and down.headers["retry-after"]
        assert "127.0.0.1" not in down.text and str(private_redis.port) not in down.text
        private_redis.start()  # empty again (no persistence): publish, then served again
        publish_real_catalog(private_redis.url, force=True)
        assert (await http.get(SEL, params=CONTEXTS[0])).status_code == 200


def test_given_non_tcp_urls_when_opening_a_link_then_there_is_none() -> None:
    assert open_link("rediss://example:6380/0", 1.0) is None
    assert open_link("unix:///tmp/redis.sock", 1.0) is None
    link = open_link("redis://user:secret@127.0.0.1:6390/3", 1.0)
    assert link is not None and (link.port, link.db, link.username, link.password) == (6390, 3, "user", "secret")
