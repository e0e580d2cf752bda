"""Tokens as delivered: what a client places in the model's context, counted on the bytes sent.

The catalog's own figures (``tokens`` of an agent or work item) count its *files*. A client
receives something else: JSON around the text, metadata, a manifest. Savings are only real
when counted on what is delivered, so every MCP tool result and every API answer that carries
catalog content reports ``delivered_tokens``: the exact cl100k_base count of its text.

MCP results carry a compact JSON header (metadata, with ``delivered_tokens`` inside it) and
then each text (an agent file, an entry file) once, as its own content block; the header's
count includes the header itself, found by a short fixed-point iteration (the figure's own
digits are a token or two). HTTP answers report the count of their body in the
``X-Delivered-Tokens`` header; bodies repeat between requests, so counts are memoised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

from agentload.tokens import count_tokens

HEADER = "X-Delivered-Tokens"
FIELD = "delivered_tokens"
_MAX_ROUNDS = 4


def compact(obj: Any) -> str:
    """Compact JSON (no indentation, UTF-8 kept): the fewest tokens for the same data."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def with_delivered(meta: Mapping[str, Any], texts: Sequence[str] = ()) -> tuple[str, int]:
    """(JSON header text, delivered tokens): ``meta`` plus ``delivered_tokens`` = the tokens of
    that header and of every text in ``texts`` together, as sent."""
    rest = sum(count_tokens(t) for t in texts)
    guess = rest
    header = compact({**meta, FIELD: guess})
    for _ in range(_MAX_ROUNDS):
        total = count_tokens(header) + rest
        if total == guess:
            break
        guess = total
        header = compact({**meta, FIELD: guess})
    return header, guess


@lru_cache(maxsize=4096)
def body_tokens(body: bytes) -> int:
    """cl100k_base tokens of a response body (UTF-8), memoised by content."""
    return count_tokens(body.decode("utf-8", errors="replace"))
