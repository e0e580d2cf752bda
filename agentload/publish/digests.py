"""Version ids, stored selections and content digests of the publish side.

A version id sorts by time
(so ``VERSIONS`` and logs read chronologically) and ends with a short content digest (so
two versions with the same content are recognisable as such).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import orjson

from agentload.catalog import Catalog
from agentload.selection.engine import SelectionConfig

DIGEST_CHARS = 10


def dump_selection(selection: Any) -> bytes:  # noqa: ANN401 - a Selection, its dict or its bytes
    """A selection as stored (``stored_selection``), as JSON bytes (given as such: unchanged)."""
    if isinstance(selection, bytes):
        return selection
    return orjson.dumps(stored_selection(selection), option=orjson.OPT_NON_STR_KEYS)


def stored_selection(selection: Any) -> dict[str, Any]:  # noqa: ANN401 - a Selection or its dict
    """A selection as stored, in its JSON form: the manifest *text* is left out (``null``).

    A whole manifest is the version's lines minus the selected agents; a bounded one is the
    lines of ``manifest_ids`` plus the version's summary (``selection.manifest``), and those
    ids are stored. Readers rebuild the text from the per-version lines they cache in-process;
    storing it in every selection made a 1000-agent version weigh ~200 MB instead of ~8 MB.
    """
    data = selection.model_dump(mode="json") if hasattr(selection, "model_dump") else dict(selection)
    listed = getattr(selection, "manifest_ids", None)
    if listed is not None:
        data["manifest_ids"] = listed
    if data.get("manifest"):
        data["manifest"] = None
    return data


def new_version_id(digest: str, now: float | None = None) -> str:
    """``20250101T120000123456-<digest>``: time-ordered, unique per publish, content-tagged."""
    ts = time.time() if now is None else now
    micros = int(round((ts % 1) * 1_000_000)) % 1_000_000
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(ts))}{micros:06d}-{digest[:DIGEST_CHARS]}"


def config_blob(config: SelectionConfig) -> bytes:
    """The selection knobs, canonically encoded: they change selections as much as files do."""
    return orjson.dumps(asdict(config), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def config_digest(config: SelectionConfig) -> str:
    """Digest of the selection knobs alone (a refresh republishes when they change)."""
    return hashlib.blake2b(config_blob(config), digest_size=8).hexdigest()


def fingerprint_digest(fingerprints: Mapping[str, str], config: SelectionConfig) -> str:
    """Digest of the catalog's file *contents* (the sha part, not mtimes) and the config."""
    h = hashlib.blake2b(digest_size=16)
    h.update(config_blob(config))
    # one update of the concatenation: the same digest as one update per part, in a tenth of the time
    h.update("".join(f"{path}\0{fingerprints[path].rsplit(':', 1)[-1]}\n" for path in sorted(fingerprints)).encode())
    return h.hexdigest()


def catalog_digest(catalog: Catalog, config: SelectionConfig) -> str:
    """Digest of a loaded catalog, for publishes that were not driven by file fingerprints."""
    h = hashlib.blake2b(digest_size=16)
    h.update(config_blob(config))
    h.update(orjson.dumps(catalog.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return h.hexdigest()


def hash_mapping(mapping: Mapping[str, str]) -> dict[Any, Any]:
    """A ``str -> str`` mapping typed the way redis-py's ``hset(mapping=...)`` accepts it."""
    return dict(mapping)
