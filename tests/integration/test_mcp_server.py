"""The MCP server as an AI client sees it: spawned over stdio, driven by the official client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis
from mcp import Client, StdioServerParameters

from agentload.api import livestats
from agentload.api.localrun import free_port, publish_real_catalog, stop_process, wait_http
from agentload.api.runtime import make_redis
from agentload.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def stdio_server(redis_url: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "agentload.mcp_server", "--transport", "stdio"],
                                 env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url}, cwd=str(REPO))


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def test_given_stdio_server_when_a_client_uses_every_tool_then_answers_come_from_redis(
    redis_url: str, redis_client: redis.Redis
) -> None:
    published = publish_real_catalog(redis_url)
    async with Client(stdio_server(redis_url)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"list_agents", "select_agents", "load_agent", "load_work_item"}
        assert "next_workflow" in tools["select_agents"].input_schema["properties"]

        manifest = structured(await client.call_tool("list_agents", {"limit": 3}))
        assert manifest["total"] == 10 and len(manifest["agents"]) == 3
        assert manifest["version"] == published["version"]

        selection = structured(await client.call_tool(
            "select_agents", {"track": "bmad-method", "field_type": "greenfield", "next_workflow": "prd"}))
        assert selection["status"] == "ready" and selection["cache"] == "hit"
        assert [a["id"] for a in selection["agents"]] == ["pm"]
        assert selection["optimized_tokens"] < selection["baseline_tokens"]

        agent = structured(await client.call_tool("load_agent", {"agent_id": "pm"}))
        assert agent["id"] == "pm" and "Product Manager" in agent["text"]

        # level 2: the work item a menu item runs, its entry file as shipped
        work_id = next(m["work_item"] for m in agent["menu"] if m.get("work_item"))
        work = structured(await client.call_tool("load_work_item", {"work_item_id": work_id}))
        assert work["id"] == work_id and "pm" in work["owners"] and work["tokens"] > 0
        assert work["text"] == (REPO / "data" / "bmad-method-v6" / work["entry_file"]).read_text()
        missing = await client.call_tool("load_work_item", {"work_item_id": "../../etc/passwd"})
        assert missing.is_error and "unknown work item" in missing.content[0].text

        unknown_agent = await client.call_tool("load_agent", {"agent_id": "nobody"})
        assert unknown_agent.is_error and "unknown agent 'nobody'" in unknown_agent.content[0].text
        unknown_workflow = await client.call_tool("select_agents", {"next_workflow": "not-a-workflow"})
        assert unknown_workflow.is_error and "workflow 'not-a-workflow'" in unknown_workflow.content[0].text
        bad_phase = await client.call_tool("select_agents", {"phase": -1})
        assert bad_phase.is_error and "phase:" in bad_phase.content[0].text

    # the server flushed its figures when the session ended
    client_redis = make_redis(Settings(redis_url=redis_url))
    try:
        stats = await livestats.tool_stats(client_redis)
    finally:
        await client_redis.aclose()
    assert stats["load_agent"]["calls"] == 2 and stats["load_agent"]["errors"] == 1
    assert stats["load_agent"]["tokens_served"] == agent["tokens"]
    assert stats["select_agents"]["calls"] == 3 and stats["select_agents"]["errors"] == 2
    assert stats["list_agents"]["latency"]["count"] == 1


async def test_given_http_transport_when_a_client_connects_then_tools_answer(
    redis_url: str, redis_client: redis.Redis
) -> None:
    publish_real_catalog(redis_url)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "agentload.mcp_server", "--transport", "http", "--port",
                             str(port)], env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url}, cwd=str(REPO))
    try:
        wait_http(f"http://127.0.0.1:{port}/mcp", proc=proc)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            agent = structured(await client.call_tool("load_agent", {"agent_id": "architect"}))
            assert agent["id"] == "architect"
            selection = structured(await client.call_tool("select_agents", {"track": "bmad-method", "phase": 3}))
            assert selection["cache"] == "hit" and selection["agents"]
    finally:
        stop_process(proc)
