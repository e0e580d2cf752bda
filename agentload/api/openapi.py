"""The app's OpenAPI document, held to what the server sends.

Routes declare their answers (``response_model=``) and failures (``failures.Problem``). One
thing cannot be declared per route: FastAPI adds its own 422, ``HTTPValidationError`` (a list
in ``detail``), to every operation with parameters that declares none, although the API's
handler (``errors.validation_response``) answers ``{detail, errors}``. ``install`` replaces any
such 422 with ``Problem`` and removes FastAPI's two schemas, so a route added without a 422
entry is still documented as the server answers it.

``departures(spec)`` lists what breaks the rules a generated client relies on (each status
declares exactly one schema; JSON answers are never ``{"type": "string"}``; every 4xx/5xx is a
``Problem``); the unit tests keep it empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from agentload.api.failures import VALIDATION, Problem

REF = "#/components/schemas/"
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
TYPED = {"$ref", "type", "anyOf", "oneOf", "allOf", "properties", "enum", "const"}  # a schema that says something


def _problem_422(spec: dict[str, Any]) -> dict[str, Any]:
    """The Problem 422 entry, with ``Problem`` and its parts added to the components."""
    schema = Problem.model_json_schema(ref_template=REF + "{model}")
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, part in schema.pop("$defs", {}).items():
        schemas.setdefault(name, part)
    schemas.setdefault(Problem.__name__, schema)
    content = {"application/json": {"schema": {"$ref": REF + Problem.__name__},
                                    "example": VALIDATION["content"]["application/json"]["example"]}}
    return {"description": VALIDATION["description"], "content": content}


def fix(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with FastAPI's default 422 replaced by ``Problem`` (in place; returned)."""
    default = {"$ref": REF + FASTAPI_VALIDATION[0]}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            answers = operation.get("responses", {})
            declared = answers.get("422", {}).get("content", {}).get("application/json", {}).get("schema")
            if declared == default:
                answers["422"] = _problem_422(spec)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in FASTAPI_VALIDATION:
        schemas.pop(name, None)
    return spec


def operation_id(route: APIRoute) -> str:
    """The handler's name (``get_agent``): what a generated client names the call (FastAPI's
    default appends path and method: ``get_agent_api_v1_agents_agent_id_get``)."""
    return route.name


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the fixed spec, built once."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = fix(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _schemas(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [media["schema"] for media in entry.get("content", {}).values() if "schema" in media]


def _is_problem(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """A ``Problem`` or a model derived from it (a required string ``detail``)."""
    target = components.get(schema.get("$ref", "").removeprefix(REF), {})
    return "detail" in target.get("required", []) and target["properties"]["detail"].get("type") == "string"


def departures(spec: dict[str, Any]) -> list[str]:
    """``METHOD path status: what is wrong`` for every response a generated client would misread."""
    components = spec.get("components", {}).get("schemas", {})
    found = [f"components: FastAPI's {name} is still declared" for name in FASTAPI_VALIDATION if name in components]
    ids = [op.get("operationId") for item in spec.get("paths", {}).values() for op in item.values()]
    found += [f"operationId {i!r} is used {ids.count(i)} times" for i in sorted(set(ids), key=str) if ids.count(i) > 1]
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            for status, entry in operation.get("responses", {}).items():
                where = f"{method.upper()} {path} {status}"
                schemas = _schemas(entry)
                if len(schemas) != 1 or len(entry.get("content", {})) != 1:
                    found.append(f"{where}: {len(schemas)} schema(s) in {len(entry.get('content', {}))} media type(s)")
                    continue
                schema, media = schemas[0], next(iter(entry["content"]))
                if set(schema) - {"$ref"} and ("$ref" in schema or "allOf" in schema):
                    found.append(f"{where}: a reference merged with other keywords: {schema}")
                elif media == "application/json" and (schema.get("type") == "string" or not set(schema) & TYPED):
                    found.append(f"{where}: JSON declared as {schema or 'anything'}")
                elif status[0] in "45" and not _is_problem(schema, components):
                    found.append(f"{where}: not a Problem: {schema}")
    return found
