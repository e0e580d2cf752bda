"""Reading a version's manifest: lines cached per process, selections' texts rebuilt, search.

Stored selections carry no manifest text (``codec.dump_selection``): a whole manifest is the
version's lines minus the selected agents, a bounded one the lines of its ``manifest_ids``
and the version's summary (``selection.manifest``). A reader keeps a version's lines (and,
once searched, its ``LineSearch`` index) in-process: a version never changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
import redis.asyncio as aioredis

from agentload import keys
from agentload.reader.codec import loads
from agentload.selection.manifest import render, render_bounded

if TYPE_CHECKING:  # numpy-backed: imported on the first search, not by every process that reads
    from agentload.selection.search import LineSearch


class ManifestUnavailable(LookupError):
    """The version's manifest key is gone (expired or evicted)."""


class ManifestReader:
    """Per-process cache of the manifests of the last ``keep`` versions read."""

    def __init__(self, redis: aioredis.Redis, keep: int = 4) -> None:
        self._redis = redis
        self._keep = keep
        self._manifests: dict[str, tuple[dict[str, str], str]] = {}
        self._searches: dict[str, LineSearch] = {}

    def _remember(self, cache: dict[str, Any], version: str, value: Any) -> None:  # noqa: ANN401
        while len(cache) >= self._keep:
            cache.pop(next(iter(cache)))
        cache[version] = value

    async def lines(self, version: str) -> tuple[dict[str, str], str]:
        """A version's manifest lines by id and its bounded manifests' summary ("" when its
        manifests are whole). Raises ``ManifestUnavailable``."""
        cached = self._manifests.get(version)
        if cached is not None:
            return cached
        raw = loads(await self._redis.get(keys.manifest_key(version)))
        if not isinstance(raw, dict):
            raise ManifestUnavailable(f"catalog version {version} has no manifest (expired?)")
        found = ({str(k): str(v) for k, v in (raw.get("lines") or {}).items()}, str(raw.get("summary") or ""))
        self._remember(self._manifests, version, found)
        return found

    async def fill(self, version: str, value: Any) -> Any:  # noqa: ANN401 - JSON
        """A stored selection (dict) with its manifest text filled in (stored as null): the
        lines of its ``manifest_ids`` and the summary for a bounded manifest, every line but
        the selected agents' and skills' for a whole one. Other values are returned as given."""
        if isinstance(value, dict) and value.get("manifest") is None:
            lines, summary = await self.lines(version)
            listed = value.pop("manifest_ids", None)
            if isinstance(listed, list):
                value["manifest"] = render_bounded(lines, [str(a) for a in listed], summary)
            else:
                chosen = {a.get("id") for a in value.get("agents") or []}
                chosen |= {s.get("id") for s in value.get("skills") or []}
                value["manifest"] = render(lines, [a for a in sorted(lines) if a not in chosen])
        return value

    async def search(self, version: str, query: str, limit: int) -> tuple[int, list[tuple[str, str]]]:
        """(lines searched, [(id, manifest line)] best first) for ``query`` over the version's
        lines; the index is built once per version, off the event loop (about half a second
        at 10,000 agents)."""
        index = self._searches.get(version)
        if index is None:
            lines, _ = await self.lines(version)
            from agentload.selection.search import LineSearch

            index = await anyio.to_thread.run_sync(LineSearch, lines)
            self._remember(self._searches, version, index)
        return len(index.ids), [(a, index.lines[a]) for a, _ in index.search(query, limit)]
