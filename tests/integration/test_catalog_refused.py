"""An empty or unreadable catalog is refused, loudly, and loses nothing (real processes).

A real Celery worker reads a project folder (``AGENTLOAD_CATALOG_PATH``); the API is served by
uvicorn; the CLI runs as a subprocess. What must hold: a folder without BMad agents is never
published (the worker's preload says ``refused`` with the reason), ``/readyz`` answers 503 with
that reason while nothing is published, ``/cache/status`` names it, the CLI exits non-zero naming
the path; once a good catalog is live, emptying the folder keeps the old version serving.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults import RedisServer, client_app, redis_server, serve, wait_ready, worker_args

from agentload.api.app import create_app
from agentload.settings import Settings
from agentload.tasknames import TaskName

REPO = Path(__file__).resolve().parents[2]
INSTALLED = REPO / "data" / "bmad-layouts" / "v6.0.4-installed"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as srv:
        yield srv


def _project(tmp_path: Path) -> Path:
    """A user's project with code and docs of its own and no BMad folder."""
    project = tmp_path / "project"
    (project / "src" / "app").mkdir(parents=True)
    (project / "src" / "app" / "main.py").write_text("print('hi')\n")
    (project / "docs").mkdir()
    (project / "docs" / "notes.md").write_text("# notes\n")
    return project


def _task(server: RedisServer, name: str, **kwargs: Any) -> dict[str, Any]:
    app = client_app(server.url)
    try:
        result: dict[str, Any] = app.send_task(name, kwargs=kwargs).get(timeout=60)
        return result
    finally:
        app.close()


def _worker(spawn_celery: Any, server: RedisServer, project: Path) -> None:
    worker = spawn_celery.start(worker_args("refused"), server.url, "worker", AGENTLOAD_CATALOG_PATH=str(project))
    wait_ready(worker, 60)


def test_given_project_without_bmad_when_preloading_then_refused_and_readyz_says_why(
    tmp_path: Path, server: RedisServer, spawn_celery: Any,
) -> None:
    project = _project(tmp_path)
    _worker(spawn_celery, server, project)
    result = _task(server, TaskName.PRELOAD.value, full=True)
    assert result["published"] is False and "no agents" in result["refused"]
    settings = Settings(env="test", redis_url=server.url, catalog_path=project)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "refused" in ready.json()["detail"] and "no agents" in ready.json()["detail"]
        status = http.get("/api/v1/cache/status").json()
        assert status["version"] is None and "no agents" in status["catalog_refused"]
        # anonymous readers are told what is wrong, not where the server's files are
        assert str(tmp_path) not in ready.text, ready.text
        assert str(tmp_path) not in http.get("/api/v1/cache/status").text, http.get("/api/v1/cache/status").text
    cli = subprocess.run([str(Path(sys.executable).with_name("agentload")), "select", "--catalog", str(project),
                          "--context-json", '{"phase": 2}'], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert cli.returncode != 0
    assert str(project) in " ".join(cli.stderr.split()) and "no agents" in cli.stderr


def test_given_live_version_when_catalog_is_emptied_or_unreadable_then_old_version_keeps_serving(
    tmp_path: Path, server: RedisServer, spawn_celery: Any,
) -> None:
    project = _project(tmp_path)
    for part in ("_bmad", ".claude"):
        shutil.copytree(INSTALLED / part, project / part)
    _worker(spawn_celery, server, project)
    first = _task(server, TaskName.PRELOAD.value, full=True)
    assert first["published"] is True and first["agents"] == 10
    settings = Settings(env="test", redis_url=server.url, catalog_path=project)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
        before = http.get("/api/v1/agents/optimized-loading", params={"phase": "2-planning"})
        assert before.status_code == 200 and before.json()["agents"]
        shutil.rmtree(project / "_bmad")
        shutil.rmtree(project / ".claude")
        emptied = _task(server, TaskName.REFRESH.value, force=True)
        assert emptied["published"] is False and "no agents" in emptied["refused"]
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["version"] == first["version"]
        assert "no agents" in ready.json()["catalog_refused"]
        after = http.get("/api/v1/agents/optimized-loading", params={"phase": "2-planning"})
        assert after.status_code == 200 and after.json()["agents"] == before.json()["agents"]
        shutil.rmtree(project)
        project.write_text("not a folder\n")  # the root itself unreadable as a catalog
        gone = _task(server, TaskName.REFRESH.value, force=True)
        assert gone["published"] is False and "not a directory" in gone["refused"]
        assert http.get("/readyz").json()["version"] == first["version"]
