"""The MCP server as an AI client sees it: spawned over stdio, driven by the official client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import redis
from mcp import Client, StdioServerParameters

from agentload.api import livestats
from agentload.api.runtime import make_redis
from agentload.catalog import load_catalog
from agentload.publish.payloads import step_chains
from agentload.settings import Settings
from agentload.tokens import count_tokens
from tests.harness import free_port, publish_real_catalog, stop_process, wait_http

REPO = Path(__file__).resolve().parents[2]


def stdio_server(redis_url: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "agentload.mcp_server", "--transport", "stdio"],
                                 env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url}, cwd=str(REPO))


def structured(result: Any) -> dict[str, Any]:
    """The JSON header of a tool result, after checking what the client receives: no copy in
    ``structuredContent``, compact JSON, and a ``delivered_tokens`` equal to the cl100k count of
    every text block sent (within 1 %)."""
    assert not result.is_error, result.content
    assert result.structured_content is None
    texts = [block.text for block in result.content]
    header: dict[str, Any] = json.loads(texts[0])
    assert texts[0] == json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    sent = sum(count_tokens(t) for t in texts)
    assert abs(header["delivered_tokens"] - sent) <= max(1, sent // 100), (header["delivered_tokens"], sent)
    return {**header, "_texts": texts[1:]}


async def test_given_stdio_server_when_a_client_uses_every_tool_then_answers_come_from_redis(
    redis_url: str, redis_client: redis.Redis
) -> None:
    published = publish_real_catalog(redis_url)
    async with Client(stdio_server(redis_url)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"list_agents", "select_agents", "load_agent", "load_work_item", "load_file",
                              "search_catalog"}
        assert "next_workflow" in tools["select_agents"].input_schema["properties"]

        manifest = structured(await client.call_tool("list_agents", {"limit": 3}))
        assert manifest["total"] == 10 and len(manifest["agents"]) == 3
        assert manifest["version"] == published["version"]

        # what a bounded manifest leaves out is found by words of its line, as delivered text
        found = structured(await client.call_tool("search_catalog", {"query": "product manager", "limit": 3}))
        assert found["searched"] == 10 and 1 <= found["found"] <= 3
        assert found["_texts"][0].splitlines()[0].startswith("- pm: ")
        nothing = structured(await client.call_tool("search_catalog", {"query": "zzzqqq"}))
        assert nothing["found"] == 0 and nothing["_texts"] == []
        too_many = await client.call_tool("search_catalog", {"query": "pm", "limit": 1000})
        assert too_many.is_error and "limit must be 1..100" in too_many.content[0].text

        selection = structured(await client.call_tool(
            "select_agents", {"track": "bmad-method", "field_type": "greenfield", "next_workflow": "prd"}))
        assert selection["status"] == "ready" and selection["cache"] == "hit"
        assert [a["id"] for a in selection["agents"]] == ["pm"]
        assert selection["optimized_tokens"] < selection["baseline_tokens"]
        assert selection["_texts"] and "manifest" not in selection  # the manifest once, as text (HEADER first)
        # the savings are counted on what loading the selection delivers: with its definitions,
        # this answer is the selection's context_tokens, less the per-call fields (cache, version...)
        loaded = structured(await client.call_tool("select_agents", {
            "track": "bmad-method", "field_type": "greenfield", "next_workflow": "prd", "include_definitions": True}))
        assert 0 <= loaded["delivered_tokens"] - loaded["context_tokens"] <= 40, loaded
        assert loaded["reduction"] == round(1 - loaded["context_tokens"] / loaded["full_context_tokens"], 6)
        assert loaded["full_context_tokens"] > loaded["baseline_tokens"]  # full's answer: files + its metadata

        agent = structured(await client.call_tool("load_agent", {"agent_id": "pm"}))
        root = REPO / "data" / "bmad-method-v6"
        definition = (root / load_catalog(root).agents["pm"].path).read_text()
        assert agent["id"] == "pm" and agent["_texts"] == [definition]
        assert agent["delivered_tokens"] <= 1.1 * count_tokens(definition)  # the file once, a small header

        # level 2: a work item the agent's menu runs, its entry file as shipped, its files' manifest
        work_id = agent["work_items"].split()[0]
        work = structured(await client.call_tool("load_work_item", {"work_item_id": work_id}))
        assert work["id"] == work_id and "pm" in work["owners"] and work["tokens"] > 0
        assert work["_texts"] == [(root / work["entry_file"]).read_text()]
        missing = await client.call_tool("load_work_item", {"work_item_id": "../../etc/passwd"})
        assert missing.is_error and "unknown work item" in missing.content[0].text

        # level 3: one referenced file on demand, and nothing outside the catalog
        listed = work["files"][0]
        one = structured(await client.call_tool("load_file", {"path": listed["path"]}))
        assert one["_texts"] == [(root / listed["path"]).read_text()] and one["tokens"] == listed["tokens"]
        # a step-file workflow: its first step, then each step's next_step, as the workflow's files chain them
        chains = step_chains(load_catalog(root))
        stepped, chain = next(iter(chains.items()))
        header = structured(await client.call_tool("load_work_item", {"work_item_id": stepped}))
        walked, current = [], header["first_step"]
        while current is not None:
            walked.append(current)
            current = structured(await client.call_tool("load_file", {"path": current}))["next_step"]
        assert walked == chain and len(chain) > 1
        for bad in ("../../../etc/passwd", "/etc/passwd", work["entry_file"] + "/../../../../../../etc/hosts"):
            refused = await client.call_tool("load_file", {"path": bad})
            assert refused.is_error and "not a file of this catalog" in refused.content[0].text

        unknown_agent = await client.call_tool("load_agent", {"agent_id": "nobody"})
        assert unknown_agent.is_error and "unknown agent 'nobody'" in unknown_agent.content[0].text
        huge = await client.call_tool("load_agent", {"agent_id": "z" * 200_000})  # not echoed back in full
        assert huge.is_error and len(huge.content[0].text) < 300 and "200000 chars" in huge.content[0].text
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
    assert stats["load_agent"]["calls"] == 3 and stats["load_agent"]["errors"] == 2
    assert stats["load_agent"]["tokens_served"] == agent["delivered_tokens"]
    assert stats["select_agents"]["calls"] == 4 and stats["select_agents"]["errors"] == 2
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
            selection = structured(await client.call_tool("select_agents", {"track": "bmad-method", "phase": 3}))
            assert selection["cache"] == "hit" and selection["agents"]
            agent = structured(await client.call_tool("load_agent", {"agent_id": selection["agents"][0]["id"]}))
            work = structured(await client.call_tool("load_work_item",
                                                     {"work_item_id": agent["work_items"].split()[0]}))
            one = structured(await client.call_tool("load_file", {"path": work["files"][0]["path"]}))
            assert one["tokens"] == work["files"][0]["tokens"] and one["_texts"][0]
    finally:
        stop_process(proc)


async def test_given_an_mcp_token_when_clients_connect_over_http_then_only_those_with_it_are_served(
    redis_url: str, redis_client: redis.Redis
) -> None:
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    publish_real_catalog(redis_url)
    port = free_port()
    token = "mcp-test-token-0123456789"
    proc = subprocess.Popen([sys.executable, "-m", "agentload.mcp_server", "--transport", "http", "--port",
                             str(port)], env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url,
                                              "AGENTLOAD_MCP_TOKEN": token}, cwd=str(REPO))
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_http(url, proc=proc)
        anonymous = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=5)
        assert anonymous.status_code == 401 and "bearer" in anonymous.headers["www-authenticate"].lower()
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "select_agents" in tools
    finally:
        stop_process(proc)


def test_given_a_client_accepting_only_event_streams_when_it_posts_then_the_answer_is_one_sse_event(
    redis_url: str, redis_client: redis.Redis
) -> None:
    publish_real_catalog(redis_url)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "agentload.mcp_server", "--transport", "http", "--port",
                             str(port)], env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url}, cwd=str(REPO))
    url = f"http://127.0.0.1:{port}/mcp"
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "sse-only", "version": "1"}}}
    try:
        wait_http(url, proc=proc)
        answer = httpx.post(url, json=hello, headers={"Accept": "text/event-stream"}, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.text.splitlines()
        assert lines[0] == "event: message" and lines[1].startswith("data: ")
        message = json.loads(lines[1].removeprefix("data: "))
        assert message["id"] == 1 and message["result"]["serverInfo"]["name"]
        # JSON clients are served as before, and a client accepting neither still gets the SDK's 406
        plain = httpx.post(url, json=hello, headers={"Accept": "application/json"}, timeout=5)
        assert plain.status_code == 200 and plain.json()["id"] == 1
        neither = httpx.post(url, json=hello, headers={"Accept": "text/html"}, timeout=5)
        assert neither.status_code == 406
    finally:
        stop_process(proc)
