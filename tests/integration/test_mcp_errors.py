"""MCP errors as a client receives them from the real server over stdio: what to fix, named,
short, with the JSON-RPC code the spec gives, and no crash logged for a caller's mistake."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import redis
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from tests.harness import publish_real_catalog

REPO = Path(__file__).resolve().parents[2]


def logged_stdio_server(redis_url: str, log: Path) -> StdioServerParameters:
    """The stdio server with its stderr (the SDK's and agentload's logs) kept in ``log``."""
    command = (f"exec {shlex.quote(sys.executable)} -m agentload.mcp_server --transport stdio --log-level INFO "
               f"2>{shlex.quote(str(log))}")
    return StdioServerParameters(command="sh", args=["-c", command], cwd=str(REPO),
                                 env={**os.environ, "AGENTLOAD_REDIS_URL": redis_url})


async def test_given_bad_arguments_when_calling_tools_then_clear_short_errors_and_no_traceback(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    publish_real_catalog(redis_url)
    log = tmp_path / "server.log"
    async with Client(logged_stdio_server(redis_url, log)) as client:
        typed = await client.call_tool("select_agents", {"complexity_level": "high", "has_ui": "maybe"})
        text = typed.content[0].text
        assert typed.is_error
        assert text == ("Error executing tool select_agents: invalid arguments: complexity_level: should be a valid "
                        "integer, unable to parse string as an integer (got 'high'); has_ui: should be a valid "
                        "boolean, unable to interpret input (got 'maybe')")
        missing = await client.call_tool("load_agent", {})
        assert missing.content[0].text.endswith("invalid arguments: agent_id: required, missing")

        unknown = await client.call_tool("list_agents", {"offest": 5, "limit": 2})
        assert unknown.is_error and unknown.content[0].text == (
            "Error executing tool list_agents: unknown argument 'offest'; list_agents takes: limit, offset")

        for huge in ({"track": ["x" * 100_000]}, {"x" * 100_000: 1}, {"project_id": "p" * 100_000}):
            refused = await client.call_tool("select_agents", huge)
            assert refused.is_error and len(refused.content[0].text) < 400, refused.content[0].text[:500]
        no_tool = await client.call_tool("t" * 100_000, {})
        said = no_tool.content[0].text
        assert no_tool.is_error and len(said) < 400 and "tools: list_agents" in said

        fine = await client.call_tool("list_agents", {"limit": 2})  # the checks let good calls through
        assert not fine.is_error
    logged = log.read_text()
    assert "Traceback" not in logged and "ERROR" not in logged, logged[-2000:]
    assert "x" * 1000 not in logged  # the huge values are not written to the log either


async def test_given_an_unknown_prompt_when_getting_it_then_invalid_params_and_no_traceback(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    publish_real_catalog(redis_url)
    log = tmp_path / "server.log"
    async with Client(logged_stdio_server(redis_url, log)) as client:
        for name in ("summarise", "p" * 100_000):
            with pytest.raises(MCPError) as no_prompt:
                await client.get_prompt(name, {"topic": "x"})
            assert no_prompt.value.code == INVALID_PARAMS and len(no_prompt.value.message) < 300
            assert no_prompt.value.message.startswith("unknown prompt '")
            assert no_prompt.value.message.endswith("'; this server offers no prompts")
    logged = log.read_text()
    assert "Traceback" not in logged and "ERROR" not in logged, logged[-2000:]
