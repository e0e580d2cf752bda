"""Bad credentials and unsafe configuration: every mutating endpoint, the comparison, production
secrets (refused by the real processes at start), and Flower's basic auth in docker-compose.

Mutating endpoints are enumerated from the app's OpenAPI spec (every non-GET operation), so a
route added later is covered without editing this file.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from faults import AUTH, BUNDLED, TOKEN, redis_server, serve

from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import DEFAULT_API_TOKEN, DEFAULT_FLOWER_PASSWORD, Settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS = Settings(env="test", api_token=TOKEN)
SPEC: dict[str, Any] = create_app(SETTINGS).openapi()
PATH_VALUES = {"agent_id": "pm", "task_id": "abc", "project_id": "acme-shop"}
MUTATING = [(method.upper(), path) for path, ops in SPEC["paths"].items() for method in ops
            if method.upper() not in ("GET", "HEAD", "OPTIONS")]
VALID_BODIES: dict[str, Any] = {
    "/api/v1/agents/preload": {"context": {"track": "bmad-method", "phase": 2}},
    "/api/v1/projects/{project_id}/workflow-state": {"phase": 1},
    "/api/v1/flags/strategy": {"strategy": "selective"},
    "/api/v1/performance/load-test": {"duration_s": 1},
    "/api/v1/performance/benchmark": {"duration_s": 1},
    "/api/v1/performance/optimize": {"warm": False, "apply": False},
}


def _url(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("security")
    with redis_server(tmp / "redis") as server:
        settings = SETTINGS.model_copy(update={"redis_url": server.url, "catalog_path": BUNDLED,
                                               "database_url": f"sqlite:///{tmp / 'db'}"})
        client = server.client()
        refresh_catalog(client, settings, WorkerState(), force=True)
        client.close()
        with serve(create_app(settings)) as base, httpx.Client(
                base_url=base, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            yield http


def test_given_the_spec_then_every_mutating_operation_declares_the_bearer_scheme() -> None:
    assert len(MUTATING) >= 8, MUTATING
    assert {"/api/v1/flags/strategy", "/api/v1/cache/refresh", "/api/v1/agents/preload"} <= {p for _, p in MUTATING}
    undeclared = [f"{m} {p}" for m, p in MUTATING if not SPEC["paths"][p][m.lower()].get("security")]
    assert not undeclared, undeclared
    assert "HTTPBearer" in SPEC["components"]["securitySchemes"]


@pytest.mark.parametrize(("method", "path"), MUTATING, ids=[f"{m} {p}" for m, p in MUTATING])
def test_given_a_mutating_endpoint_when_the_token_is_missing_or_wrong_then_401_or_403(
    http: httpx.Client, method: str, path: str
) -> None:
    url, body = _url(path), VALID_BODIES.get(path)
    cases = {
        "missing": ({}, 401),
        "bearer without a token": ({"Authorization": "Bearer"}, 401),
        "basic scheme": ({"Authorization": "Basic YWRtaW46" + TOKEN}, 401),
        "wrong": ({"Authorization": "Bearer not-the-token"}, 403),
        "prefix of the token": ({"Authorization": f"Bearer {TOKEN[:-1]}"}, 403),
        "token plus suffix": ({"Authorization": f"Bearer {TOKEN}x"}, 403),
        "other case": ({"Authorization": f"Bearer {TOKEN.upper()}"}, 403),
        "default dev token": ({"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}, 403),
    }
    for name, (headers, status) in cases.items():
        resp = http.request(method, url, json=body, headers=headers)
        assert resp.status_code == status, (name, resp.status_code, resp.text)
        assert resp.headers["content-type"] == "application/json" and resp.json()["detail"], name
        if status == 401:
            assert resp.headers["www-authenticate"].startswith("Bearer"), name
    ok = http.request(method, url, json=body, headers=AUTH)
    assert ok.status_code not in (401, 403), ok.text  # the same request with the token gets past auth


def test_given_no_token_and_a_broken_body_when_mutating_then_401_before_any_parsing(http: httpx.Client) -> None:
    resp = http.put("/api/v1/flags/strategy", content=b"{broken", headers={"content-type": "application/json"})
    assert resp.status_code == 401


def _calls(tree: ast.AST) -> set[str]:
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def test_given_the_source_then_tokens_are_compared_in_constant_time_only() -> None:
    auth = REPO / "agentload" / "api" / "auth.py"
    tree = ast.parse(auth.read_text())
    check = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "check_token")
    assert "hmac.compare_digest" in _calls(check)
    # nowhere in the product is a secret compared with == / != / in (short-circuiting, timing leak)
    secrets = ("api_token", "flower_password", "credentials")
    leaks = []
    for path in [*(REPO / "agentload").rglob("*.py"), *(REPO / "workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and not all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
                text = ast.unparse(node)
                if any(s in text for s in secrets):
                    leaks.append(f"{path.relative_to(REPO)}:{node.lineno}: {text}")
    # the only comparisons allowed: the settings validator against the *public* defaults / a length
    assert leaks and all(leak.startswith("agentload/settings.py:") and ("DEFAULT_" in leak or "len(" in leak)
                         for leak in leaks), leaks


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLOAD_")}
    env.update({"AGENTLOAD_ENV": "production", "PYTHONPATH": str(REPO), **extra})
    return env


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "AGENTLOAD_API_TOKEN"),
    ({"AGENTLOAD_API_TOKEN": "short"}, "AGENTLOAD_API_TOKEN"),
    ({"AGENTLOAD_API_TOKEN": "a-real-secret-of-32-characters!!"}, "AGENTLOAD_FLOWER_PASSWORD"),
    ({"AGENTLOAD_API_TOKEN": "a-real-secret-of-32-characters!!", "AGENTLOAD_FLOWER_PASSWORD": DEFAULT_FLOWER_PASSWORD},
     "AGENTLOAD_FLOWER_PASSWORD"),
])
@pytest.mark.parametrize("process", ["api", "worker"])
def test_given_production_with_default_secrets_when_a_process_starts_then_it_refuses(
    process: str, extra: dict[str, str], message: str
) -> None:
    """The real entry points (``uvicorn agentload.api.app:app`` imports the module-level app;
    ``celery -A workers.app`` imports the Celery app) die at import with the reason."""
    code = "import agentload.api.app" if process == "api" else "import workers.app"
    done = subprocess.run([sys.executable, "-c", code], env=_production_env(**extra), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr and "ValidationError" in done.stderr


def test_given_production_with_real_secrets_when_the_api_starts_then_it_imports() -> None:
    env = _production_env(AGENTLOAD_API_TOKEN="a-real-secret-of-32-characters!!",
                          AGENTLOAD_FLOWER_PASSWORD="another-real-secret")
    done = subprocess.run([sys.executable, "-c", "import agentload.api.app, workers.app"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_given_docker_compose_then_flower_requires_basic_auth_with_a_mandatory_password() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    flower = services["flower"]
    command = flower["command"] if isinstance(flower["command"], list) else flower["command"].split()
    assert "flower" in command
    auth = [a for a in command if str(a).startswith("--basic-auth=")]
    assert len(auth) == 1, command
    user, _, password = auth[0].removeprefix("--basic-auth=").partition(":")
    assert user and password.startswith("${AGENTLOAD_FLOWER_PASSWORD:?"), auth  # compose refuses to start without it
    env = compose["x-agentload-env"]
    assert env["AGENTLOAD_FLOWER_PASSWORD"].startswith("${AGENTLOAD_FLOWER_PASSWORD:?")
    # no other service runs flower (unauthenticated) and no service exposes it another way
    others = [name for name, svc in services.items() if name != "flower" and "flower" in str(svc.get("command", ""))]
    assert not others, others
    # the API token's compose default is the development token, which production refuses
    assert DEFAULT_API_TOKEN in env["AGENTLOAD_API_TOKEN"]
