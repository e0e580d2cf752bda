"""Installed trees of each generation served end to end: published by the refresh a worker
runs, read over HTTP as a client would (selection with its skills, agents, work items)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faults import RedisServer, redis_server, serve

from agentload.api.app import create_app
from agentload.catalog import load_catalog
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings

LAYOUTS = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as srv:
        yield srv


@pytest.mark.parametrize("tree", ["v4.44.3-installed", "v6.0.4-installed", "v6.12.0-installed"])
def test_given_installed_tree_when_published_then_api_serves_its_agents_skills_and_work_items(
    server: RedisServer, tree: str,
) -> None:
    root = LAYOUTS / tree
    catalog = load_catalog(root)
    settings = Settings(env="test", redis_url=server.url, catalog_path=root)
    r = server.client()
    try:
        published = refresh_catalog(r, settings, WorkerState(), force=True)
    finally:
        r.close()
    assert published["published"] is True and published["agents"] == len(catalog.agents)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        owned = next(w for w in sorted(catalog.work_items.values(), key=lambda w: w.id) if w.owners and w.entry_file)
        sel = http.get("/api/v1/agents/optimized-loading", params={"next_workflow": owned.id}).json()
        assert set(owned.owners) & {a["id"] for a in sel["agents"]}, sel
        if catalog.skills:
            assert owned.id in [s["id"] for s in sel["skills"]]
            assert owned.id not in sel["manifest"].split("\n", 1)[0]
        work = http.get(f"/api/v1/work-items/{owned.id}").json()
        assert work["text"] == (root / owned.entry_file).read_text() and work["owners"] == owned.owners
        agent_id = owned.owners[0]
        agent = http.get(f"/api/v1/agents/{agent_id}").json()
        assert agent["text"] == (root / catalog.agents[agent_id].path).read_text()
