"""What the MCP server checks before it serves, and what wraps its HTTP transport.

Kept apart from ``mcp_server`` (the tools) because none of it is about what the tools answer:
one says at start-up what to run when Redis or the catalog is missing, instead of failing at
the first tool call; one refuses HTTP requests without the configured bearer token; one
answers clients that accept only ``text/event-stream``.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.datastructures import Headers, MutableHeaders

from agentload import keys
from agentload.settings import Settings


def startup_problem(settings: Settings) -> str | None:
    """Why this server could not answer (Redis unreachable, no catalog published) and what to
    run about it; None when it can."""
    import redis as redis_sync

    client = redis_sync.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        version = client.get(keys.CURRENT_VERSION)
    except redis_sync.RedisError:
        return (f"Redis does not answer at AGENTLOAD_REDIS_URL ({settings.redis_url}). Run `agentload serve "
                "--project PATH` (it prints this server's configuration) or point AGENTLOAD_REDIS_URL at the "
                "Redis of a running agentload.")
    finally:
        client.close()
    if version is None:
        return ("no catalog is published in that Redis yet. Run `agentload serve --project PATH`, or start a "
                "worker with AGENTLOAD_CATALOG_PATH set to your project (it publishes on start).")
    return None


class BearerToken:
    """ASGI guard for the HTTP transport: 401 without ``Authorization: Bearer <mcp_token>``
    (constant-time comparison). Why not the SDK's auth: it is OAuth 2.1 with an authorization
    server; a deployment that only needs a shared secret sets ``AGENTLOAD_MCP_TOKEN``."""

    def __init__(self, app: Any, token: str) -> None:  # noqa: ANN401 - any ASGI app
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ANN401 - ASGI
        if scope["type"] == "http":
            scheme, _, value = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self.token):
                body = b'{"error": "missing or invalid bearer token (AGENTLOAD_MCP_TOKEN)"}'
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="agentload-mcp"'),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class EventStreamAccept:
    """ASGI shim for POSTs whose ``Accept`` names ``text/event-stream`` but not JSON.

    The server runs the SDK's JSON response mode (one JSON body per request, no stream to hold
    open), in which the SDK answers 406 to such a client. The streamable HTTP transport lets a
    server answer a POST with an SSE stream instead, so this shim asks the SDK for JSON and
    sends the same JSON-RPC message back as one ``event: message`` of a ``text/event-stream``
    body. Other requests, and answers that are not a 200 JSON body, pass through unchanged.
    Why not the SDK's SSE mode for everyone: it would refuse JSON-only clients instead.
    """

    def __init__(self, app: Any) -> None:  # noqa: ANN401 - any ASGI app
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ANN401 - ASGI
        if scope["type"] != "http" or scope["method"] != "POST" or not _sse_only(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        headers = MutableHeaders(scope=dict(scope, headers=list(scope["headers"])))
        headers["accept"] = "application/json"
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await _answer(send, start, b"".join(chunks))
            else:
                await send(message)

        await self.app({**scope, "headers": headers.raw}, receive, buffered)


def _sse_only(headers: Headers) -> bool:
    kinds = {part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")}
    return bool(kinds & {"text/event-stream", "text/*"}) and not kinds & {"application/json", "application/*", "*/*"}


async def _answer(send: Any, start: dict[str, Any], body: bytes) -> None:  # noqa: ANN401 - ASGI send
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    if start.get("status") == 200 and headers.get("content-type", "").startswith("application/json"):
        body = b"event: message\r\n" + b"".join(b"data: " + line + b"\r\n" for line in body.splitlines()) + b"\r\n"
        headers["content-type"] = "text/event-stream"
        headers["cache-control"] = "no-cache"
        headers["content-length"] = str(len(body))
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
