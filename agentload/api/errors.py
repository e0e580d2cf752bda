"""Exception handlers: every failure is a small JSON body with a status that tells the client
what to do, and never a stack trace.

- invalid input -> 422 whose ``detail`` names the field (``"query.phase: ..."``), so a client
  can fix the request without reading the schema; ``errors`` keeps the structured list;
- Redis unreachable -> 503 ``{"detail": "Redis is unavailable: ..."}`` with ``Retry-After``:
  the request was fine, the dependency was not, retrying later will work; the body names the
  kind of failure, never the server's host or port (those go to the log);
- Redis out of memory (``noeviction`` and full) -> 503 with ``Retry-After``: reads keep
  working, what needed a write (a miss's task) is refused;
- nothing published yet -> 503 naming what is missing (the preload has not run);
- too many uncached requests -> 429 from one client, 503 from all together, with ``Retry-After``;
- anything unexpected -> 500 ``{"detail": "internal server error"}`` (logged server-side).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.responses import Response

from agentload.api.problems import OVERLOADED, NotReady, TooManyMisses, describe, is_overload, redis_failure
from agentload.api.responses import ORJSONResponse
from agentload.reader.store import CatalogNotPublished

log = logging.getLogger("agentload.api")


def validation_response(errors: Sequence[Any]) -> ORJSONResponse:
    detail, items = describe(errors)
    return ORJSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _on_validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return validation_response(exc.errors())


async def on_redis(request: Request, exc: Exception) -> Response:
    """503 for a Redis connection failure or timeout: "overloaded" when this process's pool ran
    dry or a timeout came while its event loop ran late (Redis is fine: this process did not
    read the reply in time, ``api.looplag``), else "Redis is unavailable" naming the kind of
    failure only."""
    prom = getattr(request.app.state, "prom", None)
    runtime = getattr(request.app.state, "runtime", None)
    late = isinstance(exc, RedisTimeoutError) and runtime is not None and runtime.lag.behind()
    if late or is_overload(exc):
        if prom is not None:
            prom.refused.labels("overloaded").inc()
        return ORJSONResponse({"detail": OVERLOADED}, status_code=503, headers={"Retry-After": "1"})
    # the body names the kind of failure only: hosts, ports and paths stay in the log
    log.warning("redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    if prom is not None:
        prom.refused.labels("redis_unavailable").inc()
    return ORJSONResponse({"detail": f"Redis is unavailable: {redis_failure(exc)}"}, status_code=503,
                          headers={"Retry-After": "1"})


async def _on_redis_oom(request: Request, exc: Exception) -> Response:
    log.warning("redis out of memory on %s %s: %s", request.method, request.url.path, exc)
    return ORJSONResponse({"detail": "Redis is out of memory: nothing new can be stored; retry later"},
                          status_code=503, headers={"Retry-After": "5"})



async def _on_not_ready(_: Request, exc: Exception) -> Response:
    return ORJSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})


async def _on_too_many(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyMisses)
    return ORJSONResponse({"detail": str(exc)}, status_code=exc.status, headers={"Retry-After": str(exc.retry_after)})


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ORJSONResponse({"detail": "internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ValidationError, _on_validation)
    app.add_exception_handler(RedisConnectionError, on_redis)
    app.add_exception_handler(RedisTimeoutError, on_redis)
    app.add_exception_handler(OutOfMemoryError, _on_redis_oom)
    app.add_exception_handler(NotReady, _on_not_ready)
    app.add_exception_handler(TooManyMisses, _on_too_many)
    app.add_exception_handler(CatalogNotPublished, _on_not_ready)
    app.add_exception_handler(Exception, _on_unexpected)
