"""The cached selection GET answered before FastAPI's router: one Redis round trip and a send.

A hit of ``GET /api/v1/agents/optimized-loading`` repeats the same work for the same query
string: validate it (two pydantic models), resolve it against the version's resolver data,
read the stored selection, fill its manifest, build and serialise the body, count its
delivered tokens. All of that but the read is a pure function of (version, query string)
and, past the read, of (version, query string, strategy flag): versions are immutable. So
this pure ASGI middleware keeps both results per process (bounded, oldest dropped first)
and answers a known query with ``CatalogStore.probe_selection`` (the store's counted read,
counting the hit) plus bytes it already has; FastAPI's routing, dependency resolution and
response classes, which cost more than the read itself, are skipped.

It declines (the request goes on to the route, unchanged, which answers it the usual way)
whatever is not a plain hit: no context, ``project_id`` or ``project_path`` or a default
project (stored state or the project's files to merge),
``include=full``, a query the route would refuse, an unknown context, a miss, a version
published in between. A probe never counts a miss, so a declined request is counted once,
by the route. A Redis connection failure or timeout is answered here, with the route's own
503 (``errors.on_redis``): trying again in the route would double a hung Redis' wait. The
route stays declared in OpenAPI and is the reference: a test compares both paths' bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from agentload.api.errors import on_redis
from agentload.api.middleware import PromMetrics
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.selection import read_query
from agentload.api.runtime import Runtime
from agentload.api.service import Outcome, selection_event
from agentload.context import Context, Resolved
from agentload.delivered import HEADER, body_tokens
from agentload.reader.codec import loads
from agentload.reader.store import CatalogNotPublished
from agentload.resolve import resolve

PATH = "/api/v1/agents/optimized-loading"
MEMO_ITEMS = 4096  # plans and bodies each; a plan is ~1 KB, a body a few KB
_DECLINE = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What a query string resolves to in one catalog version."""

    resolved: Resolved
    key: str
    user: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A served body (bytes as the route would send them) and what its event needs."""

    body: bytes
    headers: list[tuple[bytes, bytes]]
    outcome: Outcome


class HotPath:
    """Pure ASGI middleware in front of the router; ``route`` labels the requests it answers
    for the telemetry middleware (it reads ``scope["route"]``)."""

    def __init__(self, app: ASGIApp, prom: PromMetrics, route: Any = None) -> None:  # noqa: ANN401 - a route
        self.app, self.route = app, route
        self.served, self.declined = prom.hot_path.labels("served"), prom.hot_path.labels("declined")
        self.plans: dict[tuple[str, bytes], Plan | None] = {}
        self.answers: dict[tuple[str, bytes, str | None], Answer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            rt = getattr(scope["app"].state, "runtime", None)
            if self.route is not None:  # the telemetry label of what this answers (the router sets it otherwise)
                scope["route"] = self.route
            try:
                served = rt is not None and await self._serve(rt, scope, send)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # answered here as the route would: trying again there would double the wait
                response = await on_redis(Request(scope), exc)
                await response(scope, receive, send)
                return
            except (RedisError, CatalogNotPublished):
                served = False  # the route answers it the usual way
            if served:
                self.served.inc()
                return
            self.declined.inc()
        await self.app(scope, receive, send)

    async def _serve(self, rt: Runtime, scope: Scope, send: Send) -> bool:
        started = scope.get("state", {}).get("started") or time.perf_counter()
        version = rt.store.known_version or await rt.store.current_version()  # read once per process
        if version is None:
            return False
        plan = await self._plan(rt, version, scope["query_string"])
        if plan is None:
            return False
        cur, strategy, raw = await rt.store.probe_selection(version, plan.key, rt.link)
        if cur != version or raw is None:
            return False
        memo = (version, scope["query_string"], strategy)  # the body echoes the resolved context
        answer = self.answers.get(memo)
        if answer is None:
            answer = await self._answer(rt, version, plan, raw)
            _remember(self.answers, memo, answer)
        await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})
        elapsed = time.perf_counter() - started
        rt.store.timings.add("selections", elapsed)
        rt.telemetry.add_event(selection_event(answer.outcome, source="api", user=plan.user,
                                               latency_ms=elapsed * 1000))
        return True

    async def _plan(self, rt: Runtime, version: str, query: bytes) -> Plan | None:
        memo = (version, query)
        if memo in self.plans:
            return self.plans[memo]
        plan = await _resolve(rt, version, query)
        _remember(self.plans, memo, plan)
        return plan

    async def _answer(self, rt: Runtime, version: str, plan: Plan, raw: bytes) -> Answer:
        selection = await rt.store.fill_manifest(version, loads(raw))
        outcome = Outcome("hit", version, str(selection.get("strategy", "selective")), plan.resolved, selection)
        body = ORJSONResponse(outcome.body()).body
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
                   (HEADER.lower().encode(), str(body_tokens(bytes(body))).encode())]
        return Answer(bytes(body), headers, outcome)


async def _resolve(rt: Runtime, version: str, query: bytes) -> Plan | None:
    """The plan of a query the route would answer from the cache alone; None to decline."""
    parsed = read_query(rt, QueryParams(query.decode("latin-1")))
    if isinstance(parsed, ORJSONResponse):
        return _DECLINE
    q, given = parsed
    if not given or q.include == "full" or q.project_id is not None or q.project_path is not None \
            or rt.settings.default_project is not None:  # stored state or project files to merge
        return _DECLINE
    try:
        ctx = Context(**given)
    except ValueError:  # pydantic's ValidationError: the route answers the 422
        return _DECLINE
    resolved = resolve(ctx, await rt.store.resolver(version))
    if resolved.unknown:
        return _DECLINE
    return Plan(resolved, resolved.key(), q.user_id)


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:  # noqa: ANN401 - any memo
    """Insert, dropping the oldest entries past ``MEMO_ITEMS`` (dicts keep insertion order)."""
    while len(memo) >= MEMO_ITEMS:
        memo.pop(next(iter(memo)))
    memo[key] = value
