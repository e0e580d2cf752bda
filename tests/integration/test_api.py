"""The HTTP API in process (httpx ASGI transport) against a real Redis holding the real catalog.

Every error path a client can hit is exercised here: invalid input (422 naming the field),
auth (401/403), unknown things (404), body limits (413). Enqueuing without a worker is
covered (202 + dedup); the worker round trip lives in ``test_api_worker.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from agentload import keys
from agentload.api.app import create_app
from agentload.api.runtime import Runtime
from agentload.settings import Settings
from agentload.tokens import count_tokens
from tests.harness import RedisProcess, publish_real_catalog

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}


@dataclass
class Api:
    http: httpx.AsyncClient
    rt: Runtime


def api_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"env": "test", "redis_url": redis_url, "api_token": TOKEN,
                              "database_url": f"sqlite:///{tmp_path / 'api.db'}", **overrides}
    return Settings(**values)


@pytest.fixture
def published(redis_client: redis.Redis, redis_url: str) -> dict[str, Any]:
    return publish_real_catalog(redis_url)


@pytest.fixture
async def api(redis_url: str, tmp_path: Path, published: dict[str, Any]) -> AsyncIterator[Api]:
    app = create_app(api_settings(redis_url, tmp_path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(http, app.state.runtime)


@pytest.fixture
async def lonely(private_redis: RedisProcess, tmp_path: Path) -> AsyncIterator[tuple[Api, redis.Redis]]:
    """The API on a Redis of its own that no worker consumes (the session's worker would take
    these tests' tasks once another test started it): what is enqueued stays queued."""
    publish_real_catalog(private_redis.url)
    app = create_app(api_settings(private_redis.url, tmp_path))
    direct = redis.Redis.from_url(private_redis.url, decode_responses=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(http, app.state.runtime), direct
    direct.close()


# ---------------------------------------------------------------- selection (hot path)


async def test_given_no_context_when_getting_selection_then_loader_status(api: Api, published: dict) -> None:
    resp = await api.http.get(SEL)
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ready" and body["strategy"] == "selective"
    assert body["version"] == published["version"]
    assert body["selections"] > 100 and body["agents"] == 10 and body["error_count"] == 0


async def test_given_precomputed_context_when_getting_selection_then_hit_with_reasons_and_tokens(api: Api) -> None:
    resp = await api.http.get(SEL, params=HOT)
    assert resp.status_code == 200
    body = resp.json()
    assert body["cache"] == "hit"
    assert [a["id"] for a in body["agents"]] == ["pm"]
    assert body["agents"][0]["reasons"][0]["workflow"] == "prd"
    assert body["resolved"]["phase"] == 2 and "key" not in body["resolved"] and body["key"]
    assert body["optimized_tokens"] == body["loaded_tokens"] + body["manifest_tokens"]
    assert 0 < body["reduction"] < 1 and body["baseline_tokens"] > body["optimized_tokens"]


async def test_given_include_full_when_getting_selection_then_definitions_are_embedded(api: Api) -> None:
    body = (await api.http.get(SEL, params={**HOT, "include": "full"})).json()
    assert "Product Manager" in body["agents"][0]["text"]


async def test_given_a_served_selection_when_telemetry_flushes_then_one_event_is_queued(
    api: Api, redis_client: redis.Redis
) -> None:
    await api.http.get(SEL, params={**HOT, "user_id": "alice"})
    await api.rt.telemetry.flush()
    events = [orjson.loads(e) for e in redis_client.lrange(keys.SELECTION_EVENTS, 0, -1)]
    assert len(events) == 1
    event = events[0]
    assert event["source"] == "api" and event["user"] == "alice" and event["cache_hit"] is True
    assert event["agents"] == ["pm"] and event["strategy"] == "selective" and event["latency_ms"] > 0


@pytest.mark.parametrize(("params", "field"), [
    ({"phase": -1}, "query.phase"),
    ({"complexity_level": 9}, "query.complexity_level"),
    ({"phase": "x" * 61}, "query.phase"),  # names are accepted (phase labels), up to 60 characters
    ({"workflow_history": ["prd"] * 201}, "query.workflow_history"),
    ({"request": "x" * 4001}, "query.request"),
    ({"track": "bmad-method", "wait_ms": 999999}, "query.wait_ms"),
    ({"include": "everything"}, "query.include"),
    ({"next_workfow": "prd"}, "query.next_workfow"),
    ({"project_id": "bad id!"}, "query.project_id"),
])
async def test_given_invalid_parameter_when_getting_selection_then_422_names_the_field(
    api: Api, params: dict[str, Any], field: str
) -> None:
    resp = await api.http.get(SEL, params=params)
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith(f"{field}:")
    assert resp.json()["errors"][0]["field"] == field


async def test_given_unknown_next_workflow_when_getting_selection_then_404_names_it(api: Api) -> None:
    resp = await api.http.get(SEL, params={"next_workflow": "not-a-workflow"})
    assert resp.status_code == 404
    assert resp.json() == {"detail": "unknown to this catalog: workflow 'not-a-workflow'"}


async def test_given_uncached_request_without_worker_when_getting_then_202_and_one_task(
    lonely: tuple[Api, redis.Redis],
) -> None:
    api = lonely[0]
    params = {"request": "design the onboarding screens for a budgeting app"}
    first = await api.http.get(SEL, params=params)
    second = await api.http.get(SEL, params=params)
    assert first.status_code == second.status_code == 202
    body = first.json()
    assert body["poll_url"] == f"/api/v1/tasks/{body['task_id']}"
    assert body["status_url"].startswith(SEL + "?request=")
    assert second.json()["task_id"] == body["task_id"]  # concurrent misses share one task
    state = (await api.http.get(body["poll_url"])).json()
    assert state["state"] == "PENDING" and state["ready"] is False


async def test_given_unknown_task_id_when_polling_then_404_while_an_issued_queued_one_is_pending(
    lonely: tuple[Api, redis.Redis],
) -> None:
    api, redis_client = lonely
    resp = await api.http.get("/api/v1/tasks/does-not-exist")
    assert resp.status_code == 404 and resp.json()["detail"].startswith("unknown task id: never issued here")
    issued = (await api.http.get(SEL, params={"request": "plan the sprint for the payments team"})).json()
    assert redis_client.get(keys.issued_task_key(issued["task_id"])) == "agentload.select_text"
    assert 0 < redis_client.ttl(keys.issued_task_key(issued["task_id"])) <= keys.TASK_RESULT_TTL_S
    assert (await api.http.get(issued["poll_url"])).json()["state"] == "PENDING"  # queued: no worker here
    redis_client.delete(keys.issued_task_key(issued["task_id"]))  # as when its record expires
    assert (await api.http.get(issued["poll_url"])).status_code == 404


# ---------------------------------------------------------------- strategy flag


async def test_given_strategy_full_when_getting_selection_then_every_agent_is_served(api: Api) -> None:
    assert (await api.http.get("/api/v1/flags/strategy")).json() == {"strategy": "selective", "source": "settings"}
    put = await api.http.put("/api/v1/flags/strategy", json={"strategy": "full"}, headers=AUTH)
    assert put.status_code == 200
    assert (await api.http.get("/api/v1/flags/strategy")).json() == {"strategy": "full", "source": "redis"}
    body = (await api.http.get(SEL, params=HOT)).json()
    assert body["strategy"] == "full" and len(body["agents"]) == 10
    assert body["reduction"] == 0 or body["optimized_tokens"] >= body["baseline_tokens"]


async def test_given_unknown_strategy_when_setting_flag_then_422(api: Api) -> None:
    resp = await api.http.put("/api/v1/flags/strategy", json={"strategy": "fastest"}, headers=AUTH)
    assert resp.status_code == 422 and resp.json()["detail"].startswith("strategy:")


# ---------------------------------------------------------------- projects


async def test_given_stored_project_state_when_getting_by_project_then_missing_fields_are_filled(
    api: Api, redis_client: redis.Redis
) -> None:
    state = {"track": "bmad-method", "field_type": "greenfield", "phase": 2,
             "workflow_history": ["brainstorm-project", "research", "product-brief"], "next_workflow": "prd"}
    put = await api.http.put("/api/v1/projects/acme/workflow-state", json=state, headers=AUTH)
    assert put.status_code == 200 and put.json()["transitions_counted"] == 3
    got = await api.http.get("/api/v1/projects/acme/workflow-state")
    assert got.json()["state"]["next_workflow"] == "prd"
    by_project = (await api.http.get(SEL, params={"project_id": "acme"})).json()
    assert [a["id"] for a in by_project["agents"]] == ["pm"]
    explicit = (await api.http.get(SEL, params={"project_id": "acme", "next_workflow": "create-architecture"})).json()
    assert [a["id"] for a in explicit["agents"]] == ["architect"]  # a given parameter wins
    assert redis_client.hget(keys.TRANSITIONS, "product-brief|prd") == "1"


async def test_given_unknown_project_when_reading_then_404(api: Api) -> None:
    assert (await api.http.get("/api/v1/projects/nobody/workflow-state")).status_code == 404
    resp = await api.http.get(SEL, params={"project_id": "nobody"})
    assert resp.status_code == 404 and "unknown project 'nobody'" in resp.json()["detail"]


async def test_given_bad_state_body_when_putting_then_422_or_413(api: Api, redis_url: str, tmp_path: Path) -> None:
    url = "/api/v1/projects/acme/workflow-state"
    malformed = await api.http.put(url, content=b"{not json", headers={**AUTH, "content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["detail"].startswith("body:")
    extra = await api.http.put(url, json={"phase": 1, "colour": "blue"}, headers=AUTH)
    assert extra.status_code == 422 and extra.json()["detail"].startswith("colour:")
    bad_phase = await api.http.put(url, json={"phase": 99}, headers=AUTH)
    assert bad_phase.status_code == 422 and bad_phase.json()["detail"].startswith("phase:")
    too_long = await api.http.put(url, json={"workflow_history": ["prd"] * 201}, headers=AUTH)
    assert too_long.status_code == 422 and too_long.json()["detail"].startswith("workflow_history:")
    huge = await api.http.put(url, content=b"{" + b" " * 70_000 + b"}",
                              headers={**AUTH, "content-type": "application/json"})
    assert huge.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is found while reading
        yield b"{"
        for _ in range(20):
            yield b" " * 5_000
        yield b"}"

    streamed = await api.http.put(url, content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert streamed.status_code == 413 and "byte limit" in streamed.json()["detail"], streamed.text


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize(("method", "url", "body"), [
    ("PUT", "/api/v1/projects/acme/workflow-state", {"phase": 1}),
    ("POST", "/api/v1/agents/preload", {"context": HOT}),
    ("POST", "/api/v1/cache/refresh", None),
    ("PUT", "/api/v1/flags/strategy", {"strategy": "full"}),
])
async def test_given_mutating_endpoint_when_token_missing_or_wrong_then_401_or_403(
    api: Api, method: str, url: str, body: dict[str, Any] | None
) -> None:
    missing = await api.http.request(method, url, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await api.http.request(method, url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json() == {"detail": "invalid bearer token"}
    basic = await api.http.request(method, url, json=body, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401


# ---------------------------------------------------------------- agents, preload, cache


async def test_given_agent_ids_when_getting_definitions_then_200_or_404(api: Api) -> None:
    pm = await api.http.get("/api/v1/agents/pm")
    assert pm.status_code == 200 and pm.json()["id"] == "pm" and pm.json()["text"]
    missing = await api.http.get("/api/v1/agents/nobody")
    assert missing.status_code == 404 and missing.json() == {"detail": "unknown agent 'nobody'"}


async def test_given_work_item_ids_when_getting_them_then_entry_text_and_files_or_404(api: Api) -> None:
    pm = (await api.http.get("/api/v1/agents/pm")).json()
    work_id = next(m["work_item"] for m in pm["menu"] if m.get("work_item"))
    work = await api.http.get(f"/api/v1/work-items/{work_id}")
    assert work.status_code == 200 and work.json()["id"] == work_id and "pm" in work.json()["owners"]
    body = work.json()
    root = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
    assert body["text"] == (root / body["entry_file"]).read_text() and body["tokens"] == count_tokens(body["text"])
    assert body["files"] and all((root / f["path"]).is_file() for f in body["files"])
    for bad in ("nobody", "..%2F..%2Fetc%2Fpasswd"):
        missing = await api.http.get(f"/api/v1/work-items/{bad}")
        assert missing.status_code == 404
    listed = body["files"][0]
    one = await api.http.get(f"/api/v1/files/{listed['path']}")
    assert one.status_code == 200 and one.json()["text"] == (root / listed["path"]).read_text()
    assert one.json()["tokens"] == listed["tokens"] == count_tokens(one.json()["text"])
    for bad in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", f"{listed['path']}/../../../../etc/hosts",
                "pyproject.toml"):
        refused = await api.http.get(f"/api/v1/files/{bad}")
        assert refused.status_code == 404, (bad, refused.status_code)


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/agents/pm", "/api/v1/work-items/prd",
                                  "/api/v1/files/src/modules/bmm/workflows/2-plan-workflows/prd/data/prd-purpose.md",
                                  "/api/v1/agents/optimized-loading?track=bmad-method&phase=2",
                                  "/api/v1/catalog/search?q=test+architecture"])
async def test_given_catalog_content_when_served_then_delivered_tokens_header_counts_the_body(
    api: Api, path: str
) -> None:
    got = await api.http.get(path)
    assert got.status_code == 200, got.text
    assert int(got.headers["x-delivered-tokens"]) == count_tokens(got.text)


async def test_given_manifest_when_paging_then_pages_are_stable_and_bounded(api: Api) -> None:
    first = (await api.http.get("/api/v1/agents", params={"limit": 4})).json()
    rest = (await api.http.get("/api/v1/agents", params={"limit": 10, "offset": 4})).json()
    ids = [a["id"] for a in first["agents"] + rest["agents"]]
    assert first["total"] == 10 and ids == sorted(ids) and len(set(ids)) == 10
    too_big = await api.http.get("/api/v1/agents", params={"limit": 501})
    assert too_big.status_code == 422 and too_big.json()["detail"].startswith("query.limit:")


async def test_given_words_when_searching_the_catalog_then_matching_lines_best_first_or_422(api: Api) -> None:
    found = (await api.http.get("/api/v1/catalog/search", params={"q": "ux design", "limit": 2})).json()
    assert found["searched"] == 10 and 1 <= len(found["results"]) <= 2
    assert found["results"][0]["id"] == "ux-designer" and found["results"][0]["line"].startswith("- ux-designer: ")
    exact = (await api.http.get("/api/v1/catalog/search", params={"q": "tech-writer"})).json()
    assert exact["results"][0]["id"] == "tech-writer"
    assert (await api.http.get("/api/v1/catalog/search", params={"q": "zzzqqq"})).json()["results"] == []
    for bad in ({"q": ""}, {"q": "pm", "limit": 101}, {"q": "pm", "limit": 0}, {"limit": 3}):
        refused = await api.http.get("/api/v1/catalog/search", params=bad)
        assert refused.status_code == 422 and refused.json()["detail"], (bad, refused.text)


async def test_given_preload_body_when_posting_then_202_or_validation(api: Api) -> None:
    ok = await api.http.post("/api/v1/agents/preload", json={"context": HOT, "user_id": "alice"}, headers=AUTH)
    assert ok.status_code == 202 and ok.json()["poll_url"].endswith(ok.json()["task_id"])
    empty = await api.http.post("/api/v1/agents/preload", json={}, headers=AUTH)
    assert empty.status_code == 422 and empty.json()["detail"].startswith("context:")
    unknown = await api.http.post("/api/v1/agents/preload", json={"project_id": "nobody"}, headers=AUTH)
    assert unknown.status_code == 404


async def test_given_refresh_requests_in_a_burst_when_posting_then_debounced_to_one_task(
    lonely: tuple[Api, redis.Redis],
) -> None:
    api, redis_client = lonely
    first = await api.http.post("/api/v1/cache/refresh", params={"full": "true"}, headers=AUTH)
    second = await api.http.post("/api/v1/cache/refresh", headers=AUTH)
    assert first.status_code == second.status_code == 202
    assert first.json()["debounced"] is False and second.json()["debounced"] is True
    assert second.json()["task_id"] == first.json()["task_id"]
    message = orjson.loads(redis_client.lrange("catalog", -1, -1)[0])
    assert message["headers"]["task"] == "agentload.refresh" and message["headers"]["id"] == first.json()["task_id"]


async def test_given_published_catalog_when_reading_cache_status_then_counts_and_hit_rates(api: Api) -> None:
    await api.http.get(SEL, params=HOT)
    status = (await api.http.get("/api/v1/cache/status")).json()
    assert status["agents"] == 10 and status["selections"] > 100
    assert status["hit_rate"]["selections"]["hits"] >= 1


# ---------------------------------------------------------------- health, metrics, performance


async def test_given_redis_without_catalog_when_probing_then_live_but_not_ready(
    redis_url: str, tmp_path: Path, redis_client: redis.Redis
) -> None:
    app = create_app(api_settings(redis_url, tmp_path))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["redis"] == "ok"
        sel = await http.get(SEL, params=HOT)
        assert sel.status_code == 503 and "no catalog version is published" in sel.json()["detail"]
        publish_real_catalog(redis_url)
        assert (await http.get("/readyz")).status_code == 200


async def test_given_requests_when_scraping_prometheus_then_labels_are_route_templates(api: Api) -> None:
    await api.http.get("/api/v1/agents/pm")
    await api.http.get("/api/v1/agents/nobody")
    await api.http.get("/no/such/path")
    text = (await api.http.get("/metrics")).text
    assert 'route="/api/v1/agents/{agent_id}",status="200"' in text
    assert 'route="/api/v1/agents/{agent_id}",status="404"' in text
    assert 'route="<unmatched>"' in text and "/agents/nobody" not in text


async def test_given_traffic_when_reading_performance_metrics_then_live_figures_and_history_error(
    api: Api
) -> None:
    for _ in range(3):
        await api.http.get(SEL, params=HOT)
    body = (await api.http.get("/api/v1/performance/metrics")).json()
    route = body["live"]["endpoints"]["GET /api/v1/agents/optimized-loading"]
    assert route["requests"] == 3 and route["by_status"] == {"200": 3}
    assert route["latency"]["count"] == 3 and route["latency"]["p99_ms"] > 0
    assert body["live"]["selections_served"]["api"] == 3
    assert set(body["live"]["queues"]) == {"default", "catalog", "metrics", "long"}
    assert body["live"]["cache"]["hit_rate"]["selections"]["hits"] == 3
    assert "history_error" in body  # the test database has no tables: live figures still answer


async def test_given_migrated_database_when_reading_token_usage_then_rows(
    redis_url: str, tmp_path: Path, published: dict[str, Any]
) -> None:
    from models import migrate, repository

    settings = api_settings(redis_url, tmp_path)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    await asyncio.to_thread(repository.insert_token_optimization, settings.database_url, [
        {"strategy": "selective", "baseline_tokens": 1000, "optimized_tokens": 200, "reduction": 0.8,
         "agents": ["pm"]}])
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        usage = await http.get("/api/v1/performance/token-usage", params={"group_by": "strategy"})
        assert usage.status_code == 200
        assert usage.json()["rows"][0]["key"] == "selective"
        metrics = (await http.get("/api/v1/performance/metrics")).json()
        assert "history_error" not in metrics and "cache_performance" in metrics["history"]
        bad = await http.get("/api/v1/performance/token-usage", params={"group_by": "colour"})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("query.group_by:")


async def test_given_unreachable_database_when_reading_token_usage_then_503(
    redis_url: str, tmp_path: Path, published: dict[str, Any]
) -> None:
    settings = api_settings(redis_url, tmp_path, database_url="sqlite:////nonexistent-dir/x.db")
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        resp = await http.get("/api/v1/performance/token-usage")
        assert resp.status_code == 503 and resp.json()["detail"].startswith("database unavailable:")
        assert "Traceback" not in resp.text


async def test_given_openapi_when_fetched_then_every_route_is_documented_with_examples(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    sel = spec["paths"][SEL]["get"]
    names = {p["name"] for p in sel["parameters"]}
    assert {"track", "phase", "workflow_history", "request", "project_id", "include", "wait_ms"} <= names
    assert "examples" in sel["responses"]["200"]["content"]["application/json"]
    assert {"401", "403"} <= set(spec["paths"]["/api/v1/cache/refresh"]["post"]["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
