"""Schema-driven fuzz of the HTTP API with schemathesis 4 over the app's own OpenAPI spec.

The app from ``create_app`` (plus the performance-jobs router if a build does not mount it)
is served by uvicorn on loopback against a private Redis
holding the published catalog and a migrated SQLite database. For every operation, valid
(positive) and invalid (negative) requests are generated and sent twice: with the valid bearer
token and without any. Properties checked on every response:

* never a 5xx (the dependencies are healthy, so any 5xx is a bug);
* every 4xx is ``application/json`` with a non-empty ``detail`` message;
* without a token, every operation that declares the bearer scheme answers 401;
* the response conforms to the spec: its status is declared (``status_code_conformance``), its
  media type is the declared one (``content_type_conformance``) and its body validates against
  the schema declared for that status (``response_schema_conformance``), so the spec a client
  is generated from describes what the server sends.

Failures are collected instead of raised (no shrinking: the time budget stays fixed) and
reported together, each with a curl command that reproduces it. Problems already reported as
bugs are listed in ``KNOWN`` with their id so that the fuzz keeps guarding everything else;
``test_fuzz_inputs.py`` pins each of them with an explicit (xfail) test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from faults import AUTH, BUNDLED, TOKEN, redis_server, serve
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from models import migrate

MAX_EXAMPLES = int(os.environ.get("AGENTLOAD_FUZZ_EXAMPLES", "50"))
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _huge_int_in(body: Any) -> bool:
    """Any integer in a JSON body too large for a float (``f"{n:g}"`` overflows)."""
    if isinstance(body, bool):
        return False
    if isinstance(body, int):
        return abs(body) > 1e300
    if isinstance(body, dict):
        return any(_huge_int_in(v) for v in body.values())
    if isinstance(body, list):
        return any(_huge_int_in(v) for v in body)
    return False


#: (bug id, predicate on (case, status)) for failures already reported; see the module doc
KNOWN: list[tuple[str, Callable[[Any, int], bool]]] = []  # every failure found so far is fixed


def _unparseable_json(case: Any) -> bool:
    body = case.body
    if not isinstance(body, (str, bytes)):
        return False
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


@dataclass
class Target:
    base: str
    schema: Any


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{tmp / 'fuzz.db'}"
    migrate.upgrade(db)
    with redis_server(tmp / "redis") as server:
        # max_wait_ms small: a generated miss with wait_ms must not park the fuzz for seconds
        app_settings = Settings(env="test", redis_url=server.url, api_token=TOKEN, database_url=db,
                                catalog_path=BUNDLED, max_wait_ms=50)
        client = server.client()
        refresh_catalog(client, app_settings, WorkerState(), force=True)
        client.close()
        app = create_app(app_settings)
        if "/api/v1/performance/load-test" not in app.openapi()["paths"]:  # older create_app
            from agentload.api.routes import perf_jobs

            app.include_router(perf_jobs.router)
            app.openapi_schema = None  # rebuilt with the router on the next /openapi.json
        with serve(app) as base:
            yield Target(base, schemathesis.openapi.from_url(f"{base}/openapi.json"))


def _problem(case: Any, response: Any, with_token: bool) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:200]}"
    if 400 <= status < 500:
        if not response.headers.get("content-type", [""])[0].startswith("application/json"):
            return f"{status} is not JSON: {response.headers.get('content-type')} {response.text[:100]!r}"
        try:
            body = response.json()
        except ValueError:
            return f"{status} body is not valid JSON: {response.text[:100]!r}"
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str) or not body["detail"].strip():
            return f"{status} without a message in 'detail': {response.text[:150]!r}"
    if not with_token and case.operation.definition.raw.get("security") and status != 401:
        return f"{status} without a token on a protected operation (expected 401)"
    return None


def _nonconforming(case: Any, response: Any, headers: dict[str, str]) -> str | None:
    """The first departure of ``response`` from the spec (status, media type, body schema), if any."""
    try:
        case.validate_response(response, checks=CONFORMANCE, headers=headers)
    except FailureGroup as group:
        failure = group.exceptions[0]
        return f"{response.status_code} {failure.title}: {(failure.message or '').splitlines()[:3]}"
    return None


def _fuzz(target: Target, with_token: bool) -> tuple[int, list[str], dict[str, int]]:
    problems: dict[tuple[str, str], str] = {}
    known_hits: dict[str, int] = {}
    sent = [0]
    headers = dict(AUTH) if with_token else {}
    for result in target.schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                             operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=False,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: Any) -> None:
            if not with_token and case.headers:  # schemathesis fills the bearer scheme with random values
                case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
            response = case.call(base_url=target.base, headers=headers, timeout=10)
            sent[0] += 1
            problem = _problem(case, response, with_token) or _nonconforming(case, response, headers)
            if problem is None:
                return
            bug = next((bug for bug, known in KNOWN if known(case, response.status_code)), None)
            if bug is not None:
                known_hits[bug] = known_hits.get(bug, 0) + 1
                return
            where = f"{case.operation.method.upper()} {case.operation.path}"
            key = (where, problem.split(":")[0])
            problems.setdefault(key, f"{where} -> {problem}\n    {case.as_curl_command(headers=headers)}")

        run()
    return sent[0], sorted(problems.values()), known_hits


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_given_generated_requests_when_sent_then_no_5xx_and_every_4xx_is_json_with_a_message(
    target: Target, with_token: bool
) -> None:
    sent, problems, known_hits = _fuzz(target, with_token)
    print(f"fuzz ({'token' if with_token else 'no token'}): {sent} requests, known bugs hit: {known_hits}")
    operations = sum(1 for _ in target.schema.get_all_operations())
    assert operations >= 17 and sent >= operations * 2, (operations, sent)
    assert not problems, f"{len(problems)} problem(s) in {sent} requests:\n" + "\n".join(problems)
