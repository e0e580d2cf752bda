"""Outermost ASGI guard: the token of a mutating request and the body size, before parsing.

FastAPI parses a JSON body before route dependencies run, so without this an unauthenticated
client sending garbage got a 422 instead of its 401, and a body over ``max_body_bytes`` got
Starlette's plain-text 413. Here both are answered with the API's JSON errors before any
handler or parser sees the body. The route-level ``require_token`` dependency stays: it
documents auth in OpenAPI and protects a route even if this guard were removed.
"""

from __future__ import annotations

import hmac

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"


class BodyTooLarge(HTTPException):
    """The streamed body went over the limit (no or a lying Content-Length): 413.

    An ``HTTPException`` because FastAPI turns any other error raised while it reads a body
    into 400 "error parsing the body"; this one it lets through, and the JSON error handler
    (or, outside FastAPI's routes, this middleware) answers 413."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


async def _json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, token: str, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body = app, token.encode(), max_body_bytes

    def _auth_problem(self, scope: Scope) -> tuple[int, str] | None:
        if scope["method"] in SAFE_METHODS or not scope["path"].startswith(API_PREFIX):
            return None
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, credentials = header.partition(b" ")
        if scheme.lower() != b"bearer" or not credentials.strip():
            return 401, "missing bearer token"
        if not hmac.compare_digest(credentials.strip(), self.token):
            return 403, "invalid bearer token"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._auth_problem(scope)
        if problem is not None:
            extra = [(b"www-authenticate", b'Bearer realm="agentload"')] if problem[0] == 401 else []
            await _json(send, problem[0], problem[1], extra)
            return
        length = dict(scope["headers"]).get(b"content-length")
        too_large = f"request body over the {self.max_body}-byte limit (AGENTLOAD_MAX_BODY_BYTES)"
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _json(send, 413, too_large)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(too_large)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _json(send, 413, too_large)
