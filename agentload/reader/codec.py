"""JSON values and Redis replies as the request path reads and writes them.

Values are orjson bytes (the design's "all values are JSON"). Kept apart from the publish
side's digests and version ids (``agentload.publish.digests``) so the reader imports
nothing of the selection engine.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    """JSON bytes; pydantic models are dumped in JSON mode first."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(raw: bytes | str | None) -> Any:  # noqa: ANN401 - any JSON value
    """Parsed JSON, or None for a missing key."""
    return None if raw is None else orjson.loads(raw)


def text(raw: bytes | str | None) -> str | None:
    """A Redis string reply as ``str`` (clients may or may not decode responses)."""
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else raw
