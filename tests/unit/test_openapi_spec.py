"""The OpenAPI document as a generated client reads it: one schema per status, every failure a
``Problem``, no FastAPI ``HTTPValidationError``, and every documented example valid against
the schema it illustrates. (That the schemas match the wire is
``tests/integration/test_openapi_client.py`` and the schemathesis conformance checks.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Query
from jsonschema import Draft202012Validator

from agentload.api import openapi
from agentload.api.app import create_app
from agentload.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(env="test")).openapi()


def examples(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every response example in ``spec``."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, entry in operation["responses"].items():
                for media, content in entry.get("content", {}).items():
                    where = f"{method.upper()} {path} {status} {media}"
                    if "example" in content:
                        yield where, content["schema"], content["example"]
                    for name, example in content.get("examples", {}).items():
                        yield f"{where} ({name})", content["schema"], example["value"]


def test_given_the_app_spec_when_checked_then_no_response_a_generated_client_would_misread(
    spec: dict[str, Any],
) -> None:
    assert openapi.departures(spec) == []
    operations = [operation for item in spec["paths"].values() for operation in item.values()]
    assert len(operations) >= 25 and all(any(s.startswith("2") for s in o["responses"]) for o in operations)


def test_given_every_response_example_when_validated_then_it_matches_its_schema(spec: dict[str, Any]) -> None:
    found = list(examples(spec))
    assert len(found) >= 20
    bad = []
    for where, schema, example in found:
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        bad += [f"{where}: {error.json_path}: {error.message}" for error in validator.iter_errors(example)]
    assert not bad, "\n".join(bad)


def test_given_a_route_without_its_own_422_when_documented_then_the_422_is_the_problem_body() -> None:
    app = FastAPI()

    @app.get("/things")
    async def things(limit: int = Query(10, ge=1)) -> Any:
        return {"limit": limit}

    assert "HTTPValidationError" in str(app.openapi())  # what FastAPI does by itself
    app.openapi_schema = None
    openapi.install(app)
    spec = app.openapi()
    assert spec["paths"]["/things"]["get"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in str(spec) and "ValidationError" not in spec["components"]["schemas"]
    assert openapi.departures(spec) == [  # an untyped answer is reported, not guessed
        "GET /things 200: JSON declared as {'title': 'Response Things Things Get'}"]


def test_given_a_string_answer_or_a_bare_error_when_checked_then_each_is_reported() -> None:
    spec = {"paths": {"/x": {"get": {"responses": {
        "200": {"content": {"application/json": {"schema": {"type": "string"}}}},
        "202": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A", "type": "string"}}}},
        "401": {"description": "no content"},
        "422": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}},
    }}}}, "components": {"schemas": {"A": {}, "HTTPValidationError": {}}}}
    assert openapi.departures(spec) == [
        "components: FastAPI's HTTPValidationError is still declared",
        "GET /x 200: JSON declared as {'type': 'string'}",
        "GET /x 202: a reference merged with other keywords: {'$ref': '#/components/schemas/A', 'type': 'string'}",
        "GET /x 401: 0 schema(s) in 0 media type(s)",
        "GET /x 422: not a Problem: {'$ref': '#/components/schemas/HTTPValidationError'}",
    ]
