"""orjson-rendered JSON responses.

FastAPI's own ``ORJSONResponse`` is deprecated in the installed version; this equivalent
keeps orjson for payloads we build as dicts (selections carry multi-KB manifest text, which
orjson serialises several times faster than the stdlib) and lets the hot path send bytes it
already has without a decode/encode round trip.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
