"""Bearer-token auth for mutating endpoints.

A missing credential is 401 with ``WWW-Authenticate: Bearer`` (the client may retry with a
token); a wrong one is 403 (retrying will not help). The comparison is constant-time so the
token cannot be guessed byte by byte from response timings.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agentload.settings import Settings

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <AGENTLOAD_API_TOKEN>`")


def check_token(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise 401/403 unless ``credentials`` carry the configured API token."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(status_code=401, detail="missing bearer token",
                            headers={"WWW-Authenticate": 'Bearer realm="agentload"'})
    if not hmac.compare_digest(credentials.credentials.encode(), settings.api_token.encode()):
        raise HTTPException(status_code=403, detail="invalid bearer token")


def has_token(request: Request) -> bool:
    """Whether the request carries the configured API token (for limits that trust it)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token: str = request.app.state.settings.api_token
    return scheme.lower() == "bearer" and bool(value) and hmac.compare_digest(value.encode(), token.encode())


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> None:
    """FastAPI dependency: the route runs only with a valid token."""
    check_token(request.app.state.settings, credentials)

