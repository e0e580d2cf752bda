"""orjson-rendered JSON responses.

FastAPI's own ``ORJSONResponse`` is deprecated in the installed version; this equivalent
keeps orjson for payloads we build as dicts (selections carry multi-KB manifest text, which
orjson serialises several times faster than the stdlib) and lets the hot path send bytes it
already has without a decode/encode round trip.

It subclasses Starlette's ``JSONResponse`` (same constructor, own ``render``) because FastAPI
documents a route's ``response_model`` only for JSON response classes: with a plain
``Response`` subclass every answer was declared ``{"type": "string"}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from agentload.delivered import HEADER, body_tokens


class ORJSONResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class DeliveredResponse(ORJSONResponse):
    """JSON carrying catalog content: ``X-Delivered-Tokens`` reports the cl100k tokens of the
    body as sent (what a client puts in a model's context; memoised per body)."""

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code)
        self.headers[HEADER] = str(body_tokens(bytes(self.body)))
