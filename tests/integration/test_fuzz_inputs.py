"""Explicit bad input for every endpoint, generated from the app's OpenAPI spec.

For every query and path parameter and every field of every JSON body, values of the wrong
type, below the minimum, above the maximum, absurdly large, unknown enum members, too long and
not matching the pattern are sent; each must be refused with a 4xx whose JSON ``detail`` names
the parameter or field. Every JSON body is also sent malformed, as the wrong JSON type, with an
unknown field and over ``max_body_bytes`` (413). Load-test targets and limits get their own
table. The app is served by uvicorn on loopback against a private Redis (published catalog)
and a migrated SQLite database; nothing is enqueued anywhere a worker would pick it up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from faults import AUTH, BUNDLED, TOKEN, redis_server, serve

from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from models import migrate

APP_SETTINGS = Settings(env="test", api_token=TOKEN)
SPEC: dict[str, Any] = create_app(APP_SETTINGS).openapi()
PATH_VALUES = {"agent_id": "pm", "task_id": "abc", "project_id": "acme-shop"}
HUGE = 10**30


def _alt(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an ``anyOf`` (pydantic's ``X | None``)."""
    for alt in schema.get("anyOf", [schema]):
        if alt.get("type") != "null":
            return dict(alt)
    return schema


def _ref(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def bad_values(schema: dict[str, Any], where: str = "body") -> list[tuple[str, Any]]:
    """(label, value) pairs that the schema refuses (in a URL every value is a string and one
    value is a valid one-item list, so type confusion only applies to JSON bodies)."""
    s = _ref(_alt(schema))
    kind = s.get("type", "object" if "properties" in s or "$ref" in schema else None)
    out: list[tuple[str, Any]] = []
    takes_text = any(alt.get("type") == "string" for alt in schema.get("anyOf", []))  # int | str: a name
    if kind in ("integer", "number") and not takes_text:
        out.append(("not-a-number", "abc"))
        if "minimum" in s:
            out.append(("below-minimum", s["minimum"] - 1))
        if "exclusiveMinimum" in s:
            out.append(("at-exclusive-minimum", s["exclusiveMinimum"]))
            out.append(("negative", -1))
        if "maximum" in s:
            out.append(("above-maximum", s["maximum"] + 1))
        out.append(("absurd", HUGE))
    elif kind == "boolean":
        out.append(("not-a-boolean", "maybe"))
    elif kind == "string":
        if "enum" in s:
            out.append(("unknown-enum", "no-such-member"))
        elif where == "body":
            out.append(("wrong-type", 12345))
        if "maxLength" in s:
            out.append(("too-long", "x" * (s["maxLength"] + 1)))
        if "pattern" in s:
            out.append(("bad-pattern", "bad id!"))
    elif kind == "array":
        if where == "body":
            out.append(("not-a-list", "x"))
        if "maxItems" in s and s["maxItems"] <= 100:
            item = _ref(_alt(s.get("items", {})))
            sample = {"integer": 1, "number": 1.0, "string": "x"}.get(item.get("type", ""), {})
            out.append(("too-many-items", [sample] * (s["maxItems"] + 1)))
    elif kind == "object":
        out.append(("not-an-object", "x"))
    return out


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in SPEC["paths"].items():
        for method, op in methods.items():
            yield method.upper(), path, op


def _fill(path: str, **override: str) -> str:
    for name, value in {**PATH_VALUES, **override}.items():
        path = path.replace("{" + name + "}", value)
    return path


def _body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return _ref(content["schema"]) if content else None


def _minimal_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A body holding only the required fields (enum members / simple values)."""
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = _alt(schema["properties"][name])
        body[name] = prop["enum"][0] if "enum" in prop else "x"
    return body


PARAM_CASES = [
    pytest.param(method, path, p["in"], p["name"], value, id=f"{method} {path} {p['in']}.{p['name']}={label}",
)
    for method, path, op in _operations() for p in op.get("parameters", [])
    for label, value in bad_values(p.get("schema", {}), p["in"])
] + [pytest.param("GET", "/api/v1/agents/optimized-loading", "query", "request", "x" * 4001,
                  id="GET selection query.request=over-max_request_chars")]

BODY_FIELD_CASES = [
    pytest.param(method, path, name, value, id=f"{method} {path} body.{name}={label}")
    for method, path, op in _operations() if (schema := _body_schema(op))
    for name, prop in schema.get("properties", {}).items()
    for label, value in bad_values(prop)
]

BODY_OPERATIONS = [pytest.param(method, path, id=f"{method} {path}")
                   for method, path, op in _operations() if _body_schema(op)]


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("inputs")
    db = f"sqlite:///{tmp / 'inputs.db'}"
    migrate.upgrade(db)
    with redis_server(tmp / "redis") as server:
        settings = APP_SETTINGS.model_copy(update={"redis_url": server.url, "database_url": db,
                                                   "catalog_path": BUNDLED})
        client = server.client()
        refresh_catalog(client, settings, WorkerState(), force=True)
        client.close()
        # no keep-alive: after a 500 (the pinned bugs) uvicorn closes the connection, and a reused one
        # could be reset under the next request
        with serve(create_app(settings)) as base, httpx.Client(
                base_url=base, headers=AUTH, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            yield http


def _refused(resp: httpx.Response, name: str) -> str:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"] == "application/json", resp.text[:200]
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and name in detail, detail
    assert "Traceback" not in resp.text
    return detail


def test_given_the_spec_when_enumerating_then_every_endpoint_has_cases() -> None:
    ops = list(_operations())
    assert len(ops) >= 17 and len(PARAM_CASES) >= 40 and len(BODY_FIELD_CASES) >= 60
    assert {f"{m} {p}" for m, p, op in ops if _body_schema(op)} >= {
        "POST /api/v1/agents/preload", "PUT /api/v1/projects/{project_id}/workflow-state",
        "PUT /api/v1/flags/strategy", "POST /api/v1/performance/load-test"}


@pytest.mark.parametrize(("method", "path", "where", "name", "value"), PARAM_CASES)
def test_given_a_bad_parameter_when_requesting_then_4xx_naming_it(
    http: httpx.Client, method: str, path: str, where: str, name: str, value: Any
) -> None:
    op = SPEC["paths"][path][method.lower()]
    schema = _body_schema(op)
    body = _minimal_body(schema) if schema else None
    if where == "path":
        resp = http.request(method, _fill(path, **{name: str(value)}), json=body)
    else:
        resp = http.request(method, _fill(path), params={name: value}, json=body)
    _refused(resp, f"{where}.{name}")


@pytest.mark.parametrize(("method", "path", "name", "value"), BODY_FIELD_CASES)
def test_given_a_bad_body_field_when_posting_then_422_naming_it(
    http: httpx.Client, method: str, path: str, name: str, value: Any
) -> None:
    schema = _body_schema(SPEC["paths"][path][method.lower()])
    assert schema is not None
    resp = http.request(method, _fill(path), json={**_minimal_body(schema), name: value})
    if resp.status_code == 413:  # a list long enough to pass max_body_bytes is refused before parsing
        return
    assert resp.status_code == 422, (resp.status_code, resp.text[:300])
    _refused(resp, name)


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_given_a_broken_body_when_sending_then_422_or_413_naming_the_problem(
    http: httpx.Client, method: str, path: str
) -> None:
    url = _fill(path)
    json_type = {"content-type": "application/json"}
    malformed = http.request(method, url, content=b'{"strategy": "full",', headers=json_type)
    assert malformed.status_code == 422 and _refused(malformed, "body").startswith("body: JSON decode error")
    for wrong in (b"[1, 2, 3]", b'"a string"', b"42", b"null"):
        resp = http.request(method, url, content=wrong, headers=json_type)
        _refused(resp, "body")
    unknown = http.request(method, url, json={"colour": "blue"})
    assert unknown.status_code == 422 and "colour" in _refused(unknown, "colour")
    not_utf8 = http.request(method, url, content=b'{"name": "\xff\xfe"}', headers=json_type)
    assert 400 <= not_utf8.status_code < 500 and not_utf8.json()["detail"]
    huge = http.request(method, url, content=b'{"name": "' + b"x" * (APP_SETTINGS.max_body_bytes + 1) + b'"}',
                        headers=json_type)
    assert huge.status_code == 413


def test_given_a_body_over_the_limit_when_sending_then_413_is_json_naming_the_limit(http: httpx.Client) -> None:
    resp = http.put("/api/v1/flags/strategy", content=b"x" * (APP_SETTINGS.max_body_bytes + 1),
                    headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/json" and resp.json()["detail"]


TOO_BIG_FOR_FLOAT = "1" + "0" * 400
BEYOND_FLOAT = [("load-test", '{"users": %s}', "users"), ("load-test", '{"mode": "steps", "steps": [1, %s]}', "steps"),
                ("load-test", '{"mode": "stress", "users": %s}', "users"), ("benchmark", '{"users": %s}', "users")]


@pytest.mark.parametrize(("job", "body", "field"), BEYOND_FLOAT, ids=[f"{j}-{f}-{b[:12]}" for j, b, f in BEYOND_FLOAT])
def test_given_an_integer_beyond_float_range_when_starting_a_job_then_422(
    http: httpx.Client, job: str, body: str, field: str
) -> None:
    resp = http.post(f"/api/v1/performance/{job}", content=(body % TOO_BIG_FOR_FLOAT).encode(),
                     headers={"content-type": "application/json"})
    _refused(resp, field)


def test_given_a_huge_query_string_when_requesting_then_refused_without_a_trace(http: httpx.Client) -> None:
    """Past ~64 KB the request line is refused by uvicorn itself (400, plain text: the app never
    sees it); below that, every parameter has a length bound the app reports."""
    import socket

    host, port = http.base_url.host, http.base_url.port
    assert port is not None
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /api/v1/agents/optimized-loading?track=" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 4") and b"Traceback" not in head
    resp = http.get("/api/v1/agents/optimized-loading", params={"track": "x" * 60_000})
    _refused(resp, "query.track")
    many = http.get("/api/v1/agents/optimized-loading", params=[("workflow_history", "prd")] * 201)
    _refused(many, "query.workflow_history")


# ------------------------------------------------------------------------- load tests

BASE_REFUSED = [
    "http://example.com", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1:8000",
    "https://localhost.evil.example", "http://127.0.0.1.nip.io", "http://localhost@evil.example",
    "http://[::ffff:8.8.8.8]:80", "http://0.0.0.0:8000", "ftp://127.0.0.1", "file:///etc/passwd",
    "http://127.0.0.1:99999", "http://[::1", "127.0.0.1:8000", "http://", "javascript:alert(1)",
]
BASE_ALLOWED = ["http://127.0.0.1:9", "http://localhost:8000", "http://[::1]:8000", "http://127.1.2.3",
                APP_SETTINGS.api_base_url]


@pytest.mark.parametrize("base_url", [
    u for u in BASE_REFUSED])
@pytest.mark.parametrize("job", ["load-test", "benchmark"])
def test_given_a_load_target_outside_loopback_when_starting_then_422_naming_base_url(
    http: httpx.Client, job: str, base_url: str
) -> None:
    resp = http.post(f"/api/v1/performance/{job}", json={"base_url": base_url})
    assert resp.status_code == 422, resp.text
    assert _refused(resp, "base_url").startswith("base_url:")


@pytest.mark.parametrize("base_url", BASE_ALLOWED)
def test_given_a_loopback_or_configured_target_when_starting_then_accepted(http: httpx.Client, base_url: str) -> None:
    resp = http.post("/api/v1/performance/load-test", json={"base_url": base_url, "duration_s": 1})
    assert resp.status_code == 202, resp.text


LIMITS = APP_SETTINGS
OVER_LIMITS = [
    ("load-test", {"users": LIMITS.loadtest_max_users + 1}, "users"),
    ("load-test", {"rate": LIMITS.loadtest_max_rate * 2}, "rate"),
    ("load-test", {"duration_s": LIMITS.loadtest_max_duration_s + 1}, "duration_s"),
    ("load-test", {"duration_s": LIMITS.loadtest_max_duration_s, "warmup_s": 30}, "duration_s"),
    ("load-test", {"mode": "steps", "steps": [1, LIMITS.loadtest_max_users + 1]}, "steps"),
    ("load-test", {"mode": "steps", "steps": [1, 10], "rate": LIMITS.loadtest_max_rate}, "rate"),
    ("load-test", {"mode": "steps", "steps": [1, 2], "step_duration_s": LIMITS.loadtest_max_duration_s + 1},
     "step_duration_s"),
    ("load-test", {"mode": "stress", "users": LIMITS.loadtest_max_users + 1}, "users"),
    ("load-test", {"mode": "steps", "steps": [2, 1]}, "steps"),
    ("load-test", {"users": 0}, "users"),
    ("load-test", {"rate": -5}, "rate"),
    ("load-test", {"duration_s": 0}, "duration_s"),
    ("load-test", {"warmup_s": 1e9}, "warmup_s"),
    ("load-test", {"scenario": "ddos"}, "scenario"),
    ("load-test", {"pids": {"api": -1}}, "pids"),
    ("benchmark", {"users": LIMITS.loadtest_max_users + 1}, "users"),
    ("benchmark", {"rate": LIMITS.loadtest_max_rate + 1}, "rate"),
    ("benchmark", {"duration_s": LIMITS.loadtest_max_duration_s + 1}, "duration_s"),
    ("benchmark", {"requests": ["x" * (LIMITS.max_request_chars + 1)]}, "requests"),
    ("benchmark", {"strategies": ["full", "full"]}, "strategies"),
    ("optimize", {"recall_target": 2}, "recall_target"),
    ("optimize", {"close_ratios": [0]}, "close_ratios"),
    ("optimize", {"max_warm": 10**6}, "max_warm"),
]


@pytest.mark.parametrize(("job", "body", "field"), OVER_LIMITS,
                         ids=[f"{j}-{'-'.join(map(str, b))}" for j, b, _ in OVER_LIMITS])
def test_given_job_parameters_over_the_limits_when_starting_then_422_naming_the_field(
    http: httpx.Client, job: str, body: dict[str, Any], field: str
) -> None:
    resp = http.post(f"/api/v1/performance/{job}", json=body)
    assert resp.status_code == 422, resp.text
    _refused(resp, field)
