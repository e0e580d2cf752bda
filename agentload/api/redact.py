"""Users' free-text requests kept out of task messages.

A task's keyword arguments travel in the broker message and are shown by Flower, sent in the
``task-sent`` and ``task-received`` events, and stored beside the result (``result_extended``).
A free-text request is what a user typed: with ``AGENTLOAD_REDACT_REQUEST_TEXT`` on (the
default) the API and the MCP server store it in Redis under a random key for
``text_selection_ttl_s`` and send the task the key (``request_key``) instead; the worker reads
the text back (``agentload.jobs.selection``) and deletes it once the selection is stored.
The key is random rather than a hash of the text, which a short request could be guessed from.
"""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis

from agentload import keys
from agentload.settings import Settings


async def task_kwargs(redis: Redis, settings: Settings, context: dict[str, Any], **more: Any) -> dict[str, Any]:  # noqa: ANN401
    """The task's keyword arguments for ``context`` (a JSON-ready context dict) and ``more``:
    ``{"context": ..., **more}``, with the request text replaced by ``request_key`` when
    redaction is on and there is a text. Raises Redis errors (the caller's 503 path)."""
    text = context.get("request")
    if not settings.redact_request_text or not text:
        return {"context": context, **more}
    ref = uuid.uuid4().hex
    await redis.set(keys.request_text_key(ref), text, ex=settings.text_selection_ttl_s)
    return {"context": {k: v for k, v in context.items() if k != "request"}, "request_key": ref, **more}
