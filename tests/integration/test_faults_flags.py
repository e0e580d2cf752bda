"""Rollback with the strategy flag: switch every serving process to ``full`` and back, live.

Two API apps (two processes' worth of state: their own Redis pools, stores and in-process
caches) and an MCP server share one private Redis. The flag is written through one API and
must be obeyed by the very next request of every other process, with no restart.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from faults import AUTH, BUNDLED, HOT, REAL_AGENTS, SEL, TOKEN, redis_server
from mcp import Client

from agentload.api.app import create_app
from agentload.mcp_server import AgentloadMCP
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings

FLAG = "/api/v1/flags/strategy"


@asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://api") as http:
        yield http


async def _ids(http: httpx.AsyncClient) -> tuple[str, list[str], dict[str, Any]]:
    resp = await http.get(SEL, params=HOT)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body["strategy"], [a["id"] for a in body["agents"]], body


async def test_given_two_api_processes_and_mcp_when_the_flag_flips_to_full_and_back_then_the_next_request_follows(
    tmp_path: Path,
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    with redis_server(tmp_path / "redis") as server:
        settings = Settings(env="test", redis_url=server.url, api_token=TOKEN, catalog_path=root,
                            database_url=f"sqlite:///{tmp_path / 'db'}")
        client = server.client()
        refresh_catalog(client, settings, WorkerState(), force=True)
        client.close()
        mcp = AgentloadMCP(settings)
        async with AsyncExitStack() as stack:
            writer = await stack.enter_async_context(_api(settings))
            reader = await stack.enter_async_context(_api(settings))
            agent = await stack.enter_async_context(Client(mcp.server))

            async def mcp_ids() -> tuple[str, list[str]]:
                result = await agent.call_tool("select_agents", HOT)
                assert not result.is_error, result.content
                content = json.loads(result.content[0].text)  # type: ignore[union-attr]
                return str(content["strategy"]), [a["id"] for a in content["agents"]]

            strategy, selective, before = await _ids(reader)  # warm: versions and resolvers cached in-process
            assert strategy == "selective" and 0 < len(selective) < REAL_AGENTS
            assert (await mcp_ids()) == ("selective", selective)

            put = await writer.put(FLAG, json={"strategy": "full"}, headers=AUTH)
            assert put.status_code == 200 and put.json() == {"strategy": "full", "source": "redis"}
            strategy, everyone, full = await _ids(reader)  # the very next request of another process
            assert strategy == "full" and len(everyone) == REAL_AGENTS and set(selective) <= set(everyone)
            assert full["loaded_tokens"] > before["loaded_tokens"] and full["reduction"] <= 0.0 + 1e-9
            assert (await mcp_ids()) == ("full", everyone)
            assert (await reader.get(FLAG)).json() == {"strategy": "full", "source": "redis"}

            back = await writer.put(FLAG, json={"strategy": "selective"}, headers=AUTH)
            assert back.status_code == 200
            strategy, again, after = await _ids(reader)
            assert strategy == "selective" and again == selective and after["cache"] == "hit"
            assert after["key"] == before["key"] and after["loaded_tokens"] == before["loaded_tokens"]
            assert (await mcp_ids()) == ("selective", selective)
        await mcp.aclose()
