"""Redis stopped mid-test: clear 503s (never a hang or a stack trace), then recovery.

Uses a dedicated ``redis-server`` subprocess (not the session one, which the worker and
other tests share) so it can be killed and restarted on the same port.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from mcp import Client

from agentload.api.app import create_app
from agentload.mcp_server import AgentloadMCP
from agentload.settings import Settings
from tests.harness import RedisProcess, publish_real_catalog

TOKEN = "test-token-0123456789abcdef"
SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}


async def test_given_redis_stops_when_requests_arrive_then_503_fast_and_recovery_after_restart(
    private_redis: RedisProcess, tmp_path: Path
) -> None:
    settings = Settings(env="test", redis_url=private_redis.url, api_token=TOKEN,
                        database_url=f"sqlite:///{tmp_path / 'db'}")
    publish_real_catalog(private_redis.url)
    app = create_app(settings)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        assert (await http.get(SEL, params=HOT)).status_code == 200

        private_redis.stop()
        started = time.perf_counter()
        down = await http.get(SEL, params=HOT)
        assert time.perf_counter() - started < 2.0  # fails fast, no 5 s timeouts or back-off
        assert down.status_code == 503
        assert down.json()["detail"].startswith("Redis is unavailable: ")
        assert down.headers["retry-after"] == "1" and "Traceback" not in down.text
        for method, url in (("GET", "/api/v1/agents/pm"), ("GET", "/api/v1/cache/status"),
                            ("POST", "/api/v1/cache/refresh"), ("GET", "/api/v1/performance/metrics"),
                            ("PUT", "/api/v1/flags/strategy")):
            resp = await http.request(method, url, headers=auth,
                                      json={"strategy": "full"} if method == "PUT" else None)
            assert resp.status_code == 503, (method, url, resp.text)
            assert resp.json()["detail"].startswith("Redis is unavailable")
        assert (await http.get("/healthz")).status_code == 200  # liveness does not depend on Redis
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["redis"] == "unavailable"

        private_redis.start()  # same port, empty (no persistence): the preload runs again
        publish_real_catalog(private_redis.url)
        recovered = await http.get(SEL, params=HOT)
        assert recovered.status_code == 200 and recovered.json()["cache"] == "hit"
        assert (await http.get("/readyz")).status_code == 200


async def test_given_redis_stops_when_an_mcp_tool_is_called_then_a_clear_tool_error(
    private_redis: RedisProcess, tmp_path: Path
) -> None:
    publish_real_catalog(private_redis.url)
    mcp = AgentloadMCP(Settings(env="test", redis_url=private_redis.url))
    async with Client(mcp.server) as client:
        assert not (await client.call_tool("load_agent", {"agent_id": "pm"})).is_error
        private_redis.stop()
        result = await client.call_tool("load_agent", {"agent_id": "pm"})
        assert result.is_error
        assert "Redis is unavailable" in result.content[0].text  # type: ignore[union-attr]
