"""``agentload serve --project PATH`` on an installed BMad tree, used as a newcomer would.

The command runs as a real process: it publishes the project's catalog before it prints
"ready", the printed MCP configuration works with the official MCP SDK client over stdio and
over HTTP (list tools, select, load an agent), the API answers, and SIGINT (Ctrl-C) stops
every process it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

REPO = Path(__file__).resolve().parents[2]
LAYOUT = REPO / "data" / "bmad-layouts" / "v6.0.4-installed"
PLANNING = Path("_bmad-output/planning-artifacts")


def _text(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    header: dict[str, Any] = json.loads(result.content[0].text)
    return header


async def _selected(client: Client, **args: Any) -> dict[str, Any]:  # noqa: ANN401
    """A selection; a first miss is computed by the worker ("pending": call again)."""
    deadline = time.monotonic() + 60
    while True:
        header = _text(await client.call_tool("select_agents", {**args, "wait_ms": 5000}))
        if header.get("status") == "ready" or time.monotonic() > deadline:
            return header
        await asyncio.sleep(0.5)


@pytest.fixture
def served(tmp_path: Path) -> Any:
    project = tmp_path / "my-project"
    shutil.copytree(LAYOUT, project, symlinks=True)
    for done in ("prd.md", "architecture.md"):  # what the PRD and architecture workflows leave
        (project / PLANNING).mkdir(parents=True, exist_ok=True)
        (project / PLANNING / done).write_text("# written by a workflow\n")
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "agentload.cli", "serve", "--project", str(project), "--state-dir", str(state)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path),
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)  # as a shell runs it
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if line.startswith("Ctrl-C stops everything"):
            break
    try:
        assert any(x.startswith("ready: API") for x in lines), "".join(lines)
        yield proc, lines, state
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)


async def test_given_an_installed_project_when_served_then_printed_mcp_config_works_and_ctrl_c_stops_all(
    served: Any,
) -> None:
    proc, lines, state = served
    output = "".join(lines)
    assert "published" in output and "agents" in output  # the catalog went in before "ready"
    api = next(x for x in lines if x.startswith("ready: API")).split()[2]
    sel = httpx.get(f"{api}/api/v1/agents/optimized-loading", params={"next_workflow": "create-prd"}, timeout=10)
    assert sel.status_code == 200 and sel.json()["cache"] == "hit", sel.text
    # the project's own files fill what a call leaves out: the PRD and the architecture are done
    files = httpx.get(f"{api}/api/v1/agents/optimized-loading", params={"has_ui": "false"}, timeout=10).json()
    assert files["resolved"]["next_workflow"] == "create-epics-and-stories", files
    assert files["project"]["from"][f"{PLANNING}/prd.md"] == ["workflow_history:create-prd"]
    config = json.loads((state / "mcp.json").read_text())
    assert "claude mcp add agentload" in output and '"mcpServers"' in output

    entry = config["mcpServers"]["agentload"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env={**os.environ, **entry["env"]})
    for transport in (params, config["http"]["mcpServers"]["agentload"]["url"]):
        async with Client(transport) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"select_agents", "load_agent"} <= tools
            picked = await _selected(client, request="write the PRD for our app")
            from_files = await _selected(client)
            assert from_files["resolved"]["next_workflow"] == "create-epics-and-stories", from_files
            assert f"{PLANNING}/architecture.md" in from_files["project"]["from"]
            agent_id = picked["agents"][0]["id"]
            loaded = await client.call_tool("load_agent", {"agent_id": agent_id})
            assert _text(loaded)["id"] == agent_id and len(loaded.content) == 2

    children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    assert len(children) >= 5  # redis, worker, beat, API, MCP (and the worker's pool)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground process group
    assert proc.wait(60) == 0
    time.sleep(0.5)
    assert not [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    for log in ("worker.log", "beat.log"):  # Redis outlived what uses it: no connection error on the way out
        text = (state / log).read_text(errors="replace")
        assert "Connection refused" not in text and "ConnectionError" not in text, text[-2000:]


def test_given_a_folder_without_bmad_when_served_then_exit_2_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "agentload.cli", "serve", "--project", str(empty), "--state-dir",
                           str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and str(empty) in done.stderr and done.stderr.startswith("error: --project:")


def test_given_no_redis_or_no_catalog_when_the_mcp_server_starts_then_it_says_what_to_run(tmp_path: Path) -> None:
    from tests.harness import RedisProcess, free_port

    cmd = [sys.executable, "-m", "agentload.mcp_server", "--transport", "stdio"]
    nothing = {**os.environ, "AGENTLOAD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    down = subprocess.run(cmd, env=nothing, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert down.returncode == 2 and "Redis does not answer" in down.stderr and "agentload serve" in down.stderr
    server = RedisProcess().start()
    try:
        empty = subprocess.run(cmd, env={**os.environ, "AGENTLOAD_REDIS_URL": server.url}, capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert empty.returncode == 2 and "no catalog is published" in empty.stderr
    finally:
        server.stop()
