"""Selections completed from a project's own BMad files, through the API and the MCP server.

The project is a copy of the real v6.0.4 install with the files its workflows write (documents
in the planning folder, a sprint status from the release's template); its own catalog is
published into a real Redis, as ``agentload serve --project`` does.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from mcp import Client, StdioServerParameters
from project_trees import installed, sprint_status, write

from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from agentload.tokens import count_tokens

REPO = Path(__file__).resolve().parents[2]
SEL = "/api/v1/agents/optimized-loading"
TREE = "v6.0.4-installed"
SPRINT = "_bmad-output/implementation-artifacts/sprint-status.yaml"


@pytest.fixture
def project(tmp_path: Path, redis_client: redis.Redis, redis_url: str) -> Path:
    """The project at ``<tmp>/projects/shop``, its catalog published (the refresh a worker runs)."""
    root = installed(TREE, tmp_path / "projects" / "shop")
    for name in ("prd.md", "architecture.md", "epics.md", "implementation-readiness-report-2025-11-03.md"):
        write(root, f"_bmad-output/planning-artifacts/{name}")
    sprint_status(root, TREE, SPRINT)
    client = redis.Redis.from_url(redis_url)
    try:
        published = refresh_catalog(client, Settings(env="test", redis_url=redis_url, catalog_path=root),
                                    WorkerState(), force=True)
    finally:
        client.close()
    assert published["published"] is True
    return root


def settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:  # noqa: ANN401
    return Settings(env="test", redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'api.db'}", **overrides)


@pytest.fixture
async def http(project: Path, redis_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(redis_url, tmp_path, project_roots=[tmp_path / "projects"]))
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                                   base_url="http://test") as client:
        yield client


async def test_given_project_path_when_selecting_then_its_files_fill_the_context_and_the_answer_says_which(
    http: httpx.AsyncClient, project: Path,
) -> None:
    got = await http.get(SEL, params={"project_path": str(project)})
    assert got.status_code == 200, got.text
    body = got.json()
    assert [a["id"] for a in body["agents"]] == ["dev"] and body["cache"] == "hit"
    assert body["resolved"]["next_workflow"] == "dev-story" and body["resolved"]["phase"] == 4
    assert body["project"]["from"][SPRINT] == ["workflow_history:sprint-planning", "workflow_history:create-story",
                                               "phase", "next_workflow"]
    assert body["project"]["from"]["_bmad-output/planning-artifacts/prd.md"] == ["workflow_history:create-prd"]
    assert int(got.headers["x-delivered-tokens"]) == count_tokens(got.text)  # the report is counted too
    assert str(project) not in got.text  # paths relative to the project only


async def test_given_project_path_and_explicit_fields_when_selecting_then_the_client_wins(
    http: httpx.AsyncClient, project: Path,
) -> None:
    body = (await http.get(SEL, params={"project_path": str(project), "next_workflow": "create-prd"})).json()
    assert [a["id"] for a in body["agents"]] == ["pm"] and body["resolved"]["next_workflow"] == "create-prd"
    assert "phase" not in str(body["project"]["from"])
    assert any("next_workflow (the client gave it)" in n for n in body["project"]["notes"])


async def test_given_a_path_the_server_may_not_read_when_selecting_then_4xx_before_reading(
    http: httpx.AsyncClient, project: Path, tmp_path: Path, redis_url: str,
) -> None:
    (tmp_path / "other").mkdir()
    outside = await http.get(SEL, params={"project_path": str(tmp_path / "other")})
    assert outside.status_code == 403 and "AGENTLOAD_PROJECT_ROOTS" in outside.json()["detail"]
    sneaky = await http.get(SEL, params={"project_path": f"{project}/../../other"})
    assert sneaky.status_code == 403
    relative = await http.get(SEL, params={"project_path": "projects/shop"})
    assert relative.status_code == 422 and "absolute" in relative.json()["detail"]
    missing = await http.get(SEL, params={"project_path": str(project.parent / "gone")})
    assert missing.status_code == 404 and "no such folder" in missing.json()["detail"]
    app = create_app(settings(redis_url, tmp_path))  # no roots: reading project files is off
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                                   base_url="http://test") as off:
        refused = await off.get(SEL, params={"project_path": str(project)})
    assert refused.status_code == 403 and "reads no project files" in refused.json()["detail"]


async def test_given_a_default_project_when_a_call_names_none_then_its_files_are_used(
    project: Path, redis_url: str, tmp_path: Path,
) -> None:
    app = create_app(settings(redis_url, tmp_path, default_project=project))
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                                   base_url="http://test") as http:
        body = (await http.get(SEL, params={"has_ui": "false"})).json()
        status = (await http.get(SEL)).json()
    assert [a["id"] for a in body["agents"]] == ["dev"] and SPRINT in body["project"]["from"]
    assert status["status"] == "ready"  # no parameter at all: still the loader's status


def _header(result: Any) -> dict[str, Any]:  # noqa: ANN401 - an MCP CallToolResult
    assert not result.is_error, result.content[0].text
    texts = [block.text for block in result.content]
    header: dict[str, Any] = json.loads(texts[0])
    assert abs(header["delivered_tokens"] - sum(count_tokens(t) for t in texts)) <= 2
    return header


async def test_given_mcp_server_of_a_project_when_select_agents_gets_nothing_then_the_files_decide(
    project: Path, redis_url: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "AGENTLOAD_REDIS_URL": redis_url, "AGENTLOAD_DEFAULT_PROJECT": str(project),
           "AGENTLOAD_PROJECT_ROOTS": json.dumps([str(tmp_path / "projects")])}
    server = StdioServerParameters(command=sys.executable, args=["-m", "agentload.mcp_server", "--transport",
                                                                 "stdio"], env=env, cwd=str(REPO))
    async with Client(server) as client:
        plain = _header(await client.call_tool("select_agents", {}))
        assert plain["status"] == "ready" and [a["id"] for a in plain["agents"]] == ["dev"]
        assert plain["project"]["from"][SPRINT][-1] == "next_workflow"
        explicit = _header(await client.call_tool("select_agents", {"next_workflow": "create-architecture"}))
        assert [a["id"] for a in explicit["agents"]] == ["architect"]
        named = _header(await client.call_tool("select_agents", {"project_path": str(project)}))
        assert named["agents"] == plain["agents"]
        refused = await client.call_tool("select_agents", {"project_path": str(tmp_path)})
        assert refused.is_error and "AGENTLOAD_PROJECT_ROOTS" in str(getattr(refused.content[0], "text", ""))
