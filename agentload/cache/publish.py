"""Publish a catalog version to Redis: build it completely, then switch the pointer once.

Every key of the new version is written (pipelined, in chunks) under a version id nobody
reads yet, with a safety TTL so that a build killed half-way leaves nothing behind. One
``WATCH``/``MULTI`` transaction then removes those TTLs, points ``CURRENT_VERSION`` at the
new version, records it in ``VERSIONS``, gives the previous version's keys their expiry and
stores the file fingerprints the refresh compares against. Readers follow the pointer, so
they see the old version or the new one complete, never a mix; readers that resolved the
old pointer just before the switch still find its keys for ``ttl_old_s`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from agentload import keys
from agentload.cache.codec import (
    catalog_digest,
    config_digest,
    dump_selection,
    dumps,
    hash_mapping,
    new_version_id,
    text,
)
from agentload.cache.contexts import FULL_KEY, compute_selections
from agentload.cache.payloads import file_payloads, step_chains, work_item_payloads
from agentload.catalog import Catalog
from agentload.selection.engine import Selector
from agentload.selection.models import Selection

CHUNK = 250  # keys per pipeline round trip while writing a version (larger measured no faster)...
CHUNK_BYTES = 8 << 20  # ...or fewer when the values are large (bounded client buffers)
KEEP_VERSIONS = 50  # entries kept in the VERSIONS sorted set (history, not data)
MIN_BUILD_TTL_S = 600  # safety TTL of a version under construction


def parsed_files(catalog: Catalog) -> list[str]:
    """Files that made it into this catalog; a later failure of one of them holds refreshes."""
    files = {a.path for a in catalog.agents.values()} | {p.file for p in catalog.paths}
    files |= {w.file for w in catalog.workflows.values() if w.exists}
    return sorted(files)


def _values(
    version: str, catalog: Catalog, selector: Selector, selections: Mapping[str, Selection]
) -> Iterable[tuple[str, str, bytes]]:
    """(cache type, key, value) of every key of a version except its meta."""
    yield "catalog", keys.resolver_key(version), dumps(selector.resolver)
    text_all, tokens_all = selector.manifest.text(frozenset())
    yield "catalog", keys.manifest_key(version), dumps(
        {"lines": selector.manifest.lines, "text": text_all, "tokens": tokens_all})
    for agent_id, agent in catalog.agents.items():
        yield "agent_definitions", keys.agent_key(version, agent_id), dumps(agent)
    file_tokens: dict[str, int] = {}
    chains = step_chains(catalog)
    for path, payload in file_payloads(catalog, file_tokens, chains):
        yield "catalog", keys.file_key(version, path), dumps(payload)
    for work_id, payload in work_item_payloads(catalog, file_tokens, chains):
        yield "catalog", keys.work_item_key(version, work_id), dumps(payload)
    for key, sel in selections.items():
        yield "selections", keys.selection_key(version, key), dump_selection(sel)


def _write(
    r: redis.Redis, version: str, items: Iterable[tuple[str, str, bytes]], ttl_s: int
) -> tuple[list[str], dict[str, int]]:
    """Write every value with a safety TTL, indexing the keys; returns (keys, bytes by type).

    Each round trip carries a chunk of ``SET ... EX`` and one ``SADD`` of the chunk's keys
    followed by the index's ``EXPIRE``: one index command per chunk instead of one per key
    (command count, not bytes, is what a Python client pays for). The index expires from its
    first members on, so a build killed mid-way leaves no key behind.
    """
    index = keys.version_index_key(version)
    written: list[str] = []
    sizes: dict[str, int] = {}
    pending, batch = 0, 0
    pipe = r.pipeline(transaction=False)

    def flush() -> None:
        if batch:
            pipe.sadd(index, *written[-batch:])
            pipe.expire(index, ttl_s)
            pipe.execute()

    for cache_type, key, value in items:
        pipe.set(key, value, ex=ttl_s)
        written.append(key)
        sizes[cache_type] = sizes.get(cache_type, 0) + len(value)
        pending += len(value)
        batch += 1
        if batch >= CHUNK or pending >= CHUNK_BYTES:
            flush()
            pending, batch = 0, 0
    flush()
    return written, sizes


def _evicted_by_type(version: str, members: Iterable[str]) -> dict[str, int]:
    agent_prefix, sel_prefix = keys.agent_key(version, ""), keys.selection_key(version, "")
    counts = {"agent_definitions": 0, "selections": 0}
    for key in members:
        if key.startswith(agent_prefix):
            counts["agent_definitions"] += 1
        elif key.startswith(sel_prefix):
            counts["selections"] += 1
    return counts


# One script call per few thousand keys instead of one PERSIST / EXPIRE command per key; the
# calls are queued in the switch's MULTI like the commands were, so the switch stays atomic.
_PERSIST_ALL = "for i = 1, #KEYS do redis.call('PERSIST', KEYS[i]) end return #KEYS"
_EXPIRE_ALL = "for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end return #KEYS"
SCRIPT_KEYS = 5000  # keys per script call (bounded argument lists)


def _parts(items: list[str]) -> Iterable[list[str]]:
    return (items[i:i + SCRIPT_KEYS] for i in range(0, len(items), SCRIPT_KEYS))


def switch_version(
    r: redis.Redis,
    version: str,
    written: list[str],
    *,
    ttl_old_s: int,
    fingerprints: Mapping[str, str] | None = None,
) -> str | None:
    """Make ``version`` current in one transaction; returns the version it replaced."""
    index = keys.version_index_key(version)
    previous: list[str | None] = [None]

    def step(pipe: redis.client.Pipeline) -> None:
        prev = text(pipe.get(keys.CURRENT_VERSION))
        prev_keys = [text(k) or "" for k in pipe.smembers(keys.version_index_key(prev))] if prev else []
        previous[0] = prev
        pipe.multi()
        for part in _parts([*written, index]):
            pipe.eval(_PERSIST_ALL, len(part), *part)
        pipe.set(keys.CURRENT_VERSION, version)
        pipe.zadd(keys.VERSIONS, {version: time.time()})
        pipe.zremrangebyrank(keys.VERSIONS, 0, -(KEEP_VERSIONS + 1))
        if prev and prev != version:
            ttl = max(1, int(ttl_old_s))
            for part in _parts([*prev_keys, keys.version_index_key(prev)]):
                pipe.eval(_EXPIRE_ALL, len(part), *part, ttl)
            for cache_type, n in _evicted_by_type(prev, prev_keys).items():
                pipe.hincrby(keys.stats_key(cache_type), "evictions", n)
        for cache_type in ("agent_definitions", "selections"):
            pipe.hincrby(keys.stats_key(cache_type), "refreshes", 1)
        if fingerprints is not None:
            pipe.delete(keys.FINGERPRINTS)
            if fingerprints:
                pipe.hset(keys.FINGERPRINTS, mapping=hash_mapping(fingerprints))

    r.transaction(step, keys.CURRENT_VERSION)
    return previous[0]


def publish_catalog(
    r: redis.Redis,
    catalog: Catalog,
    selector: Selector,
    *,
    ttl_old_s: int,
    selections: Mapping[str, Selection] | None = None,
    fingerprints: Mapping[str, str] | None = None,
    digest: str | None = None,
    build_ms: float | None = None,
) -> dict[str, Any]:
    """Write a complete new version of ``catalog`` and make it current; returns its stats.

    ``selections`` (every structured one plus ``full``) are computed here unless the caller
    already has them (the refresh computes them incrementally). ``fingerprints`` are stored
    in the same transaction as the pointer switch, so they always describe the live version.
    """
    started = time.perf_counter()
    if selections is None:
        selections, _, _ = compute_selections(selector)
        build_ms = (time.perf_counter() - started) * 1000
    if FULL_KEY not in selections:
        raise ValueError(f"selections must include the {FULL_KEY!r} selection")
    digest = digest or catalog_digest(catalog, selector.config)
    version = new_version_id(digest)
    meta_written = time.perf_counter()
    build_ttl = max(MIN_BUILD_TTL_S, int(ttl_old_s))
    written, sizes = _write(r, version, _values(version, catalog, selector, selections), build_ttl)
    size = sum(sizes.values())
    meta = {
        "version": version,
        "digest": digest,
        "config_digest": config_digest(selector.config),
        "published_at": time.time(),
        "catalog_root": catalog.root,
        "agents": len(catalog.agents),
        "selections": len(selections),
        "baseline_tokens": catalog.baseline_tokens,
        "orchestrator": selector.orchestrator,
        "errors": [e.model_dump() for e in catalog.errors],
        "build_ms": round(build_ms or 0.0, 3),
        "bytes": size,
        "bytes_by_type": sizes,
        "parsed_files": parsed_files(catalog),
    }
    meta_bytes = dumps(meta)
    more, _ = _write(r, version, [("catalog", keys.meta_key(version), meta_bytes)], build_ttl)
    written += more
    wrote = time.perf_counter()
    previous = switch_version(r, version, written, ttl_old_s=ttl_old_s, fingerprints=fingerprints)
    done = time.perf_counter()
    return {
        "version": version,
        "previous": previous,
        "digest": digest,
        "agents": len(catalog.agents),
        "selections": len(selections),
        "keys": len(written) + 1,  # + the index set
        "bytes": size + len(meta_bytes),
        "build_ms": round(build_ms or 0.0, 3),
        "write_ms": round((wrote - meta_written) * 1000, 3),
        "switch_ms": round((done - wrote) * 1000, 3),
        "total_ms": round((done - started) * 1000, 3),
    }


def store_selection(r: redis.Redis, version: str, selection: Selection, ttl_s: int) -> bool:
    """Cache one selection computed after publication (free text, predicted contexts).

    ``NX``: a selection is a pure function of (version, key), so an existing value is
    already right and is never rewritten; the TTL bounds what a version accumulates.
    """
    return bool(r.set(keys.selection_key(version, selection.key), dump_selection(selection), nx=True,
                      ex=max(1, int(ttl_s))))
