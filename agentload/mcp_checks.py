"""What the MCP server checks before it serves, and the HTTP transport's optional guard.

Kept apart from ``mcp_server`` (the tools) because neither is about what the tools answer:
one says at start-up what to run when Redis or the catalog is missing, instead of failing at
the first tool call; the other refuses HTTP requests without the configured bearer token.
"""

from __future__ import annotations

import hmac
from typing import Any

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
