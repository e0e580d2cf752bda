"""The workers' disk cache of catalog passage vectors, shared by every process of a machine.

Why: a worker process that has not embedded the catalog yet (a fresh prefork child, one
replaced by ``worker_max_memory_per_child``, a new container) spent seconds of CPU before its
first free-text answer: the bundled catalog's 67 passages take 2.1 s to embed on the 2-core
development machine, and each child paid it again, on a user's request. With this cache the
first process of a machine pays it once; the others read the vectors back (milliseconds).

What is stored: the vector of a catalog passage (agent texts and menu entries, never a user's
request: ``selection/semantic.py`` only shares passages), 384 float32 values as raw bytes,
keyed by the model's version (a digest of its weights) and a digest of the exact text. A
cached vector is the one the model computed for that text, so a changed catalog or model
simply misses.

Why ``diskcache``: a maintained SQLite-backed cache, safe for concurrent processes, with a
size limit and least-recently-stored eviction; a file format of our own would need the same
locking and eviction. It is a cache: when its folder cannot be opened or written (read-only
home, disk full) the worker logs it once and embeds in memory as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import diskcache  # ships no type information: wrapped in the typed DiskVectors below
import numpy as np
import numpy.typing as npt

from agentload.selection import semantic
from agentload.settings import Settings

logger = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
_installed: list[str] = []  # the folder this process's store uses ("" when off)
CacheError = (OSError, sqlite3.Error, diskcache.Timeout)


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/agentload/embeddings`` (``~/.cache/agentload/embeddings``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentload" / "embeddings"


def _key(model: str, text: str) -> str:
    return f"{model}:{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"


class DiskVectors:
    """A ``semantic.VectorStore`` in a ``diskcache.Cache`` folder (at most ``size_mb`` MiB).

    ``load``/``save`` never raise: a failing cache logs a warning and behaves as empty.
    """

    def __init__(self, folder: Path, size_mb: int) -> None:
        self.folder = folder
        self.cache: Any = diskcache.Cache(str(folder), size_limit=size_mb * 1024 * 1024,
                                          eviction_policy="least-recently-stored", timeout=5)

    def load(self, model: str, texts: list[str]) -> dict[str, Vector]:
        out: dict[str, Vector] = {}
        try:
            for text in texts:
                raw = self.cache.get(_key(model, text))
                if isinstance(raw, bytes) and len(raw) % 4 == 0:
                    out[text] = np.frombuffer(raw, dtype=np.float32).copy()
        except CacheError as exc:
            logger.warning("embedding cache %s unreadable (%s): embedding in memory", self.folder, exc)
        return out

    def save(self, model: str, vectors: dict[str, Vector]) -> None:
        try:
            with self.cache.transact():
                for text, vec in vectors.items():
                    self.cache.set(_key(model, text), np.ascontiguousarray(vec, dtype=np.float32).tobytes())
        except CacheError as exc:
            logger.warning("embedding cache %s not writable (%s): vectors kept in memory only", self.folder, exc)


def install(settings: Settings) -> None:
    """Give this process the disk cache ``settings`` ask for (once; ``embedding_cache_mb`` 0:
    none). Called by the jobs before they build a selector."""
    folder = "" if settings.embedding_cache_mb == 0 else (settings.embedding_cache_dir or str(default_folder()))
    if _installed == [folder]:
        return
    _installed[:] = [folder]
    if not folder:
        semantic.use_store(None)
        return
    try:
        semantic.use_store(DiskVectors(Path(folder), settings.embedding_cache_mb))
    except CacheError as exc:
        logger.warning("embedding cache %s cannot be opened (%s): each process embeds the catalog itself",
                       folder, exc)
        semantic.use_store(None)
