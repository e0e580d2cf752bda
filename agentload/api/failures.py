"""The API's one error body, ``Problem``, and the OpenAPI ``responses`` entries that declare it.

Every 4xx/5xx answer is ``{"detail": "<one line>"}``; a 422 adds ``errors``, one item per bad
field (``problems.describe``). Declaring that shape once lets a generated client parse every
failure with one type. FastAPI's default 422 schema (``HTTPValidationError``, whose ``detail``
is a list) describes a body this API never sends; ``agentload.api.openapi`` replaces it.

Each entry here is ``{"model": Problem, "description": ..., "content": {example}}``, the form
FastAPI's ``responses=`` takes; routes list them by status (``{**AUTH, 422: VALIDATION}``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

Responses = dict[int | str, dict[str, Any]]


class FieldError(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="Where: `query.phase`, `context.phase` (a body field), `body` (unparseable "
                       "body) or `request`", examples=["query.phase"])
    message: str = Field(examples=["Input should be greater than or equal to 0"])
    type: str = Field(description="pydantic's error type, or `limit`, `too_long`, `target_refused`...",
                      examples=["greater_than_equal"])


class Problem(BaseModel):
    """Every failure: ``detail`` for a human (for a 422, each bad field as ``field: message``);
    a 422 also lists the bad fields in ``errors``, which no other status carries."""

    detail: str = Field(examples=["query.phase: Input should be greater than or equal to 0"])
    # absent, never null: SkipJsonSchema keeps `None` (the Python default) out of the schema
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None, description="422 only: one item per invalid field")


def problem(description: str, example: str, model: type[Problem] = Problem, **extra: Any) -> dict[str, Any]:
    """A ``responses`` entry: ``model`` (``Problem`` or a subclass) with an example body."""
    return {"model": model, "description": description,
            "content": {"application/json": {"example": {"detail": example, **extra}}}}


VALIDATION = problem("A parameter or body field is invalid; `detail` names it, `errors` lists each",
                     "query.phase: Input should be greater than or equal to 0",
                     errors=[{"field": "query.phase", "message": "Input should be greater than or equal to 0",
                              "type": "greater_than_equal"}])
REDIS_DOWN = problem("Redis is unreachable, out of memory or this process is overloaded (see `Retry-After`)",
                     "Redis is unavailable: connection failed")
DB_DOWN = problem("The database is unreachable", "database unavailable: OperationalError")
NO_TOKEN = problem("Missing bearer token (see `WWW-Authenticate`)", "missing bearer token")
BAD_TOKEN = problem("Wrong bearer token", "invalid bearer token")
TOO_LARGE = problem("The body is over `AGENTLOAD_MAX_BODY_BYTES`",
                    "request body over the 65536-byte limit (AGENTLOAD_MAX_BODY_BYTES)")

NO_ROUTE = problem("No such path (a path parameter containing `/` leaves the route)", "Not Found")

AUTH: Responses = {401: NO_TOKEN, 403: BAD_TOKEN}
"""What a mutating route adds for its bearer token (answered by ``Guard`` before parsing)."""

UNREADABLE = problem("The body is not text (FastAPI answers bytes that are not UTF-8 with 400; invalid JSON "
                     "is a 422)", "There was an error parsing the body")
BODY: Responses = {400: UNREADABLE, 413: TOO_LARGE}
"""What a route that reads a JSON body adds."""

