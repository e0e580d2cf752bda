"""Publish a catalog version to Redis: build it completely, then switch the pointer once.

Every key of the new version is written in chunks under a version id nobody reads yet, with a
safety TTL so that a build killed half-way leaves nothing behind (``writer.write_version``;
agent definitions, work items and files are stored once by content and listed per version,
and those unchanged since the last publish of this process are not sent again, ``reuse``),
while the selections are computed: a version is streamed, never held whole. One
``WATCH``/``MULTI`` transaction then removes those TTLs, points ``CURRENT_VERSION`` at the
new version, records it in ``VERSIONS``, gives the previous version's keys their expiry and
stores the file fingerprints the refresh compares against (``writer.switch_version``).
Readers follow the pointer, so they see the old version or the new one complete, never a mix;
readers that resolved the old pointer just before the switch still find its keys for
``ttl_old_s`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import redis

from agentload import keys
from agentload.catalog import Catalog
from agentload.keys import FULL_KEY
from agentload.publish.contexts import iter_selections
from agentload.publish.digests import catalog_digest, config_digest, dump_selection, new_version_id
from agentload.publish.reuse import PublishMemo, version_items
from agentload.publish.writer import Item, switch_version, write_version
from agentload.reader.codec import dumps
from agentload.selection.engine import Selector
from agentload.selection.models import Selection

MIN_BUILD_TTL_S = 600  # safety TTL of a version under construction
#: every structured selection plus ``full``, by key: a mapping or pairs computed as they are
#: written; each a ``Selection``, its stored JSON form (``codec.stored_selection``) or its bytes
Stored = Selection | dict[str, Any] | bytes
Selections = Mapping[str, Stored] | Iterable[tuple[str, Stored]]


def parsed_files(catalog: Catalog) -> list[str]:
    """Files that made it into this catalog; a later failure of one of them holds refreshes."""
    files = {a.path for a in catalog.agents.values()} | {p.file for p in catalog.paths}
    files |= {w.file for w in catalog.workflows.values() if w.exists}
    return sorted(files)


class _Timed:
    """Selections as they are computed, with their count, keys and compute time (a publish
    interleaves computing and writing them, so neither holds a whole version)."""

    def __init__(self, selections: Selections) -> None:
        self._items = selections.items() if isinstance(selections, Mapping) else selections
        self.count, self.seconds, self.has_full = 0, 0.0, False

    def __iter__(self) -> Iterator[tuple[str, Stored]]:
        it = iter(self._items)
        while True:
            started = time.perf_counter()
            item = next(it, None)
            self.seconds += time.perf_counter() - started
            if item is None:
                return
            self.count += 1
            self.has_full = self.has_full or item[0] == FULL_KEY
            yield item


def manifest_payload(selector: Selector) -> dict[str, Any]:
    """The version's manifest key: every line (``list_agents``, search, whole manifests), the
    whole manifest's tokens, and the summary that closes bounded manifests."""
    m = selector.manifest
    return {"lines": m.lines, "tokens": m.full_tokens, "bounded": m.bounded, "summary": m.summary,
            "summary_tokens": m.summary_tokens, "budget_tokens": m.budget}


def _values(
    version: str, catalog: Catalog, selector: Selector, selections: _Timed, agents_and_payloads: Iterable[Item]
) -> Iterable[Item]:
    """(cache type, key, value) of every key of a version except its meta."""
    yield "catalog", keys.resolver_key(version), selector.resolver_json
    yield "catalog", keys.manifest_key(version), dumps(manifest_payload(selector))
    yield from agents_and_payloads
    for key, sel in selections:
        yield "selections", keys.selection_key(version, key), dump_selection(sel)


def publish_catalog(
    r: redis.Redis,
    catalog: Catalog,
    selector: Selector,
    *,
    ttl_old_s: int,
    selections: Selections | None = None,
    fingerprints: Mapping[str, str] | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """Write a complete new version of ``catalog`` and make it current; returns its stats
    (``publish_version`` without a memo of an earlier publish)."""
    return publish_version(r, catalog, selector, ttl_old_s=ttl_old_s, selections=selections,
                           fingerprints=fingerprints, digest=digest)[0]


def publish_version(
    r: redis.Redis,
    catalog: Catalog,
    selector: Selector,
    *,
    ttl_old_s: int,
    selections: Selections | None = None,
    fingerprints: Mapping[str, str] | None = None,
    digest: str | None = None,
    reuse: PublishMemo | None = None,
    stored_fingerprints: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], PublishMemo]:
    """Write a complete new version of ``catalog`` and make it current; returns its stats and
    what the next publish of this process can copy from it (``reuse``: this process's last
    publish, whose unchanged values are listed by digest instead of sent).

    ``selections`` default to ``iter_selections(selector)``; without ``full`` nothing is
    switched (``ValueError``; the written keys expire with their safety TTL).
    ``fingerprints`` are stored in the same transaction as the pointer switch, so they always
    describe the live version (``stored_fingerprints``: what the hash holds now, so that only
    the differences are written; ``writer.switch_version``). ``build_ms`` is the selections'
    compute time, ``write_ms`` the rest of writing the version.
    """
    started = time.perf_counter()
    timed = _Timed(iter_selections(selector) if selections is None else selections)
    digest = digest or catalog_digest(catalog, selector.config)
    version = new_version_id(digest)
    build_ttl = max(MIN_BUILD_TTL_S, int(ttl_old_s))
    items, memo = version_items(version, catalog, reuse)
    written, sizes, kept = write_version(r, version, _values(version, catalog, selector, timed, items), build_ttl,
                                         base=reuse.version if reuse is not None else None)
    if not timed.has_full:
        raise ValueError(f"selections must include the {FULL_KEY!r} selection")
    build_ms = timed.seconds * 1000
    size = sum(sizes.values())
    meta = {
        "version": version,
        "digest": digest,
        "config_digest": config_digest(selector.config),
        "published_at": time.time(),
        "catalog_root": catalog.root,
        "agents": len(catalog.agents),
        "selections": timed.count,
        "baseline_tokens": catalog.baseline_tokens,
        "orchestrator": selector.orchestrator,
        "errors": [e.model_dump() for e in catalog.errors],
        "build_ms": round(build_ms, 3),
        "bytes": size,
        "bytes_by_type": sizes,
        "parsed_files": parsed_files(catalog),
    }
    meta_bytes = dumps(meta)
    more, _, _ = write_version(r, version, [("catalog", keys.meta_key(version), meta_bytes)], build_ttl)
    written += more
    wrote = time.perf_counter()
    previous = switch_version(r, version, written, ttl_old_s=ttl_old_s, fingerprints=fingerprints,
                              stored_fingerprints=stored_fingerprints)
    done = time.perf_counter()
    return {
        "version": version,
        "previous": previous,
        "digest": digest,
        "agents": len(catalog.agents),
        "selections": timed.count,
        "keys": len(written) + 1,  # + the index set
        "reused_values": kept,
        "bytes": size + len(meta_bytes),
        "build_ms": round(build_ms, 3),
        "write_ms": round((wrote - started) * 1000 - build_ms, 3),
        "switch_ms": round((done - wrote) * 1000, 3),
        "total_ms": round((done - started) * 1000, 3),
    }, memo


def store_selection(r: redis.Redis, version: str, selection: Selection, ttl_s: int) -> bool:
    """Cache one selection computed after publication (free text, predicted contexts).

    ``NX``: a selection is a pure function of (version, key), so an existing value is
    already right and is never rewritten; the TTL bounds what a version accumulates.
    """
    return bool(r.set(keys.selection_key(version, selection.key), dump_selection(selection), nx=True,
                      ex=max(1, int(ttl_s))))
