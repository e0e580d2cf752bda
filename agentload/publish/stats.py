"""Move the hot path's cache counters from Redis to SQL, exactly once per increment.

The request path only ``HINCRBY``s hashes (``keys.stats_key(type)``). A periodic flush
takes each hash away atomically (a Lua ``RENAME`` to a per-flush key: increments that
arrive afterwards start a fresh hash, so none is lost), writes the rows to
``cache_performance`` and only then deletes the taken keys. If the write fails the taken
counters are merged back into the live hashes before the error propagates, so the next
flush writes them once. A process killed between the SQL commit and the delete leaves the
taken keys to expire (``TAKEN_TTL_S``) rather than be counted twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import redis

from agentload import keys
from agentload.reader.codec import loads, text
from agentload.reader.counting import CACHE_TYPES, hit_summary, parse_counters

COUNTER_FIELDS = ("hits", "misses", "time_us", "timed", "refreshes", "evictions")
TAKEN_TTL_S = 24 * 3600
SCAN_LIMIT = 10_000  # keys examined to size the per-project / per-user caches

RowWriter = Callable[[list[dict[str, Any]]], object]

# KEYS: 1 live hash, 2 per-flush key; ARGV: 1 ttl. Returns the taken hash (flat list).
TAKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return redis.call('HGETALL', KEYS[2])
"""


def build_rows(
    counters: Mapping[str, Mapping[str, int]], sizes: Mapping[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    """``cache_performance`` rows: one per cache type that had activity or holds keys."""
    rows: list[dict[str, Any]] = []
    for cache_type in CACHE_TYPES:
        c = counters.get(cache_type, {})
        size_keys, memory = sizes.get(cache_type, (0, 0))
        if not any(c.get(f, 0) for f in COUNTER_FIELDS) and not size_keys:
            continue
        summary = hit_summary(dict(c))
        rows.append({
            "cache_type": cache_type,
            "hits": summary["hits"],
            "misses": summary["misses"],
            "refreshes": c.get("refreshes", 0),
            "evictions": c.get("evictions", 0),
            "size_keys": size_keys,
            "memory_bytes": memory,
            "avg_time_ms": summary["avg_time_ms"],
            "hit_rate": summary["hit_rate"] or 0.0,
        })
    return rows


def _scan_size(r: redis.Redis, pattern: str) -> tuple[int, int]:
    found = [k for _, k in zip(range(SCAN_LIMIT), r.scan_iter(match=pattern, count=1000), strict=False)]
    if not found:
        return 0, 0
    pipe = r.pipeline(transaction=False)
    for key in found:
        pipe.memory_usage(key)
    return len(found), sum(int(m or 0) for m in pipe.execute())


def cache_sizes(r: redis.Redis) -> dict[str, tuple[int, int]]:
    """(keys, bytes) per cache type: catalog types from the current version's meta (payload
    bytes), per-project and per-user caches by a bounded scan (Redis memory usage)."""
    sizes: dict[str, tuple[int, int]] = {}
    version = text(r.get(keys.CURRENT_VERSION))
    meta = loads(r.get(keys.meta_key(version))) if version else None
    if meta:
        by_type = meta.get("bytes_by_type", {})
        sizes["agent_definitions"] = (int(meta["agents"]), int(by_type.get("agent_definitions", 0)))
        sizes["selections"] = (int(meta["selections"]), int(by_type.get("selections", 0)))
    sizes["workflow_state"] = _scan_size(r, keys.workflow_state_key("*"))
    sizes["user_context"] = _scan_size(r, keys.user_prefs_key("*"))
    return sizes


def sql_writer(database_url: str) -> RowWriter:
    """Writes rows with the repository in one transaction (imported lazily: workers only)."""

    def write(rows: list[dict[str, Any]]) -> object:
        from models.repository import insert_cache_performance
        from models.session import session_scope

        with session_scope(database_url) as session:
            return insert_cache_performance(session, rows)

    return write


def _merge_back(r: redis.Redis, taken: Mapping[str, Mapping[str, int]], flush_id: str) -> None:
    pipe = r.pipeline(transaction=True)
    for cache_type, counters in taken.items():
        for name, value in counters.items():
            pipe.hincrby(keys.stats_key(cache_type), name, value)
        pipe.delete(keys.stats_flush_key(cache_type, flush_id))
    pipe.execute()


def flush_cache_stats(r: redis.Redis, db: str | RowWriter) -> dict[str, Any]:
    """Take the counters, write ``cache_performance`` rows, then drop what was taken.

    ``db`` is a database URL (rows go through ``models.repository``) or a row writer.
    """
    write = sql_writer(db) if isinstance(db, str) else db
    flush_id = uuid.uuid4().hex
    take = r.register_script(TAKE)
    taken: dict[str, dict[str, int]] = {}
    for cache_type in CACHE_TYPES:
        raw = take(keys=[keys.stats_key(cache_type), keys.stats_flush_key(cache_type, flush_id)],
                   args=[TAKEN_TTL_S])
        if raw:
            taken[cache_type] = parse_counters(raw)
    try:
        rows = build_rows(taken, cache_sizes(r))
        if rows:
            write(rows)
    except BaseException:
        _merge_back(r, taken, flush_id)
        raise
    if taken:
        r.delete(*(keys.stats_flush_key(t, flush_id) for t in taken))
    return {"flush_id": flush_id, "rows": rows, "written": len(rows)}
