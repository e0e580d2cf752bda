"""Drain the served-selection events from Redis into ``agent_loading_metrics`` and ``token_optimization``.

The request path (API and MCP server) only ``RPUSH``es one compact JSON event per served
selection to ``keys.SELECTION_EVENTS``; this job empties it from the head in batches, so the
database never sits on the request path. Exactly-once, by construction:

* a batch is *moved* atomically (Lua: ``LRANGE`` + ``LTRIM`` + ``RPUSH`` into a per-flush key
  with a TTL), so two concurrent flushes never take the same event;
* the batch is written in one SQL transaction (both tables) together with its id in
  ``flushed_batches``;
* only after the commit is the per-batch key deleted. If the write fails, the batch is put
  back at the head in its original order before the error propagates (the task retries),
  so nothing is lost and the next flush writes it once;
* a process killed mid-flush (SIGKILL, OOM killer, hard time limit) leaves its taken key
  behind. Every flush first sweeps taken keys older than ``orphan_after_s`` (twice the
  flush's hard time limit: their flush is dead for sure): a batch whose id is in
  ``flushed_batches`` was committed and its key is dropped; any other is given back and
  written by this flush, once.

An event that cannot become a row (not JSON, wrong types) would otherwise block the queue
forever; it is moved to ``keys.SELECTION_EVENTS_DEAD`` (capped) and counted instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis

from agentload import keys
from agentload.jobs.runtime import redis_client
from agentload.settings import get_settings
from models import repository, rows
from models.batches import prune_batches, record_batch, written_batches
from models.session import session_scope

BATCH = 1000
MAX_BATCHES = 50  # one run moves at most 50k events; the next beat tick takes the rest
TAKEN_TTL_S = 24 * 3600
DEAD_CAP = 1000

# KEYS: 1 live list, 2 per-flush list; ARGV: 1 batch size, 2 ttl. Returns the taken items.
TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return {} end
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('RPUSH', KEYS[2], unpack(items))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return items
"""

# KEYS: 1 live list, 2 per-flush list. Puts the taken items back at the head, in order.
GIVE_BACK = """
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('DEL', KEYS[2])
return #items
"""


def event_rows(raw: bytes | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``agent_loading_metrics`` row, ``token_optimization`` row) of one event.

    Both rows are checked against the table specs here, one event at a time, so a bad event
    is found before the batch insert (where it would fail the whole batch on every retry).
    Raises ``ValueError``/``TypeError`` for an event that cannot be stored.
    """
    event = orjson.loads(raw)
    if not isinstance(event, dict):
        raise ValueError("an event must be a JSON object")
    who = {k: str(event[k]) for k in ("user", "project") if event.get(k) is not None}
    common = {"recorded_at": event.get("recorded_at"), "context_hash": event.get("context_hash"),
              "strategy": event.get("strategy"), **who}
    loading = {**common, "agents_loaded": event.get("agents") or [], "agents_count": event.get("agents_count"),
               "loaded_tokens": event.get("loaded_tokens"), "manifest_tokens": event.get("manifest_tokens"),
               "baseline_tokens": event.get("baseline_tokens"), "latency_ms": event.get("latency_ms"),
               "cache_hit": event.get("cache_hit"), "source": event.get("source")}
    # savings are counted on what the client receives (delivered tokens; file tokens for events
    # of selections stored before they carried delivered counts)
    delivered = bool(event.get("full_context_tokens"))
    tokens = {**common,
              "baseline_tokens": event.get("full_context_tokens" if delivered else "baseline_tokens"),
              "optimized_tokens": event.get("context_tokens" if delivered else "optimized_tokens"),
              "reduction": event.get("reduction"), "agents": event.get("agents") or []}
    rows.validate_row(rows.AgentLoadingRow, loading)
    rows.validate_row(rows.TokenOptimizationRow, tokens)
    return loading, tokens


def write_rows(db_url: str, loading: list[dict[str, Any]], tokens: list[dict[str, Any]],
               batch_id: str | None = None) -> None:
    """Both tables in one transaction, with the batch's id when given: an event is stored
    completely or not at all, and a stored batch is known as such."""
    with session_scope(db_url) as session:
        repository.insert_agent_loading_metrics(session, loading)
        repository.insert_token_optimization(session, tokens)
        if batch_id is not None:
            record_batch(session, batch_id, len(loading))


def sweep_orphans(r: redis.Redis, db_url: str, orphan_after_s: float) -> dict[str, int]:
    """Taken batches whose flush died: dropped when already written, else given back.
    Returns ``{"dropped": n, "given_back": m}`` (batches)."""
    give_back = r.register_script(GIVE_BACK)
    old: dict[str, str] = {}
    for raw in r.scan_iter(match=keys.events_flush_key("*"), count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        ttl = int(r.ttl(key))
        if ttl >= 0 and TAKEN_TTL_S - ttl >= orphan_after_s:
            old[key.split(":flushing:", 1)[1].rsplit(":", 1)[0]] = key
    out = {"dropped": 0, "given_back": 0}
    if not old:
        return out
    with session_scope(db_url) as session:
        written = written_batches(session, old)
        prune_batches(session, datetime.now(UTC) - timedelta(seconds=2 * TAKEN_TTL_S))
    for batch_id, key in old.items():
        if batch_id in written:
            r.delete(key)
            out["dropped"] += 1
        else:
            give_back(keys=[keys.SELECTION_EVENTS, key])
            out["given_back"] += 1
    return out


def _convert(items: list[bytes]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bytes]]:
    loading, tokens, bad = [], [], []
    for raw in items:
        try:
            a, t = event_rows(raw)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            bad.append(raw)
            continue
        loading.append(a)
        tokens.append(t)
    return loading, tokens, bad


def drain_events(r: redis.Redis, db_url: str, *, batch: int = BATCH, max_batches: int = MAX_BATCHES,
                 orphan_after_s: float | None = None) -> dict[str, Any]:
    """Move up to ``batch x max_batches`` events into SQL, after sweeping batches of dead
    flushes older than ``orphan_after_s`` (None: no sweep); see the module doc."""
    flush_id = uuid.uuid4().hex
    take, give_back = r.register_script(TAKE), r.register_script(GIVE_BACK)
    out: dict[str, Any] = {"flush_id": flush_id, "events": 0, "agent_loading_metrics": 0, "token_optimization": 0,
           "invalid": 0, "batches": 0}
    if orphan_after_s is not None:
        out["orphans"] = sweep_orphans(r, db_url, orphan_after_s)
    for n in range(max_batches):
        batch_id = f"{flush_id}-{n}"
        taken_key = keys.events_flush_key(batch_id)
        items: list[bytes] = take(keys=[keys.SELECTION_EVENTS, taken_key], args=[batch, TAKEN_TTL_S])
        if not items:
            break
        loading, tokens, bad = _convert(items)
        try:
            write_rows(db_url, loading, tokens, batch_id)
        except BaseException:
            give_back(keys=[keys.SELECTION_EVENTS, taken_key])
            raise
        pipe = r.pipeline(transaction=True)
        if bad:
            pipe.rpush(keys.SELECTION_EVENTS_DEAD, *bad)
            pipe.ltrim(keys.SELECTION_EVENTS_DEAD, -DEAD_CAP, -1)
        pipe.delete(taken_key)
        pipe.execute()
        out["events"] += len(items)
        out["agent_loading_metrics"] += len(loading)
        out["token_optimization"] += len(tokens)
        out["invalid"] += len(bad)
        out["batches"] += 1
        if len(items) < batch:
            break
    out["remaining"] = int(r.llen(keys.SELECTION_EVENTS))
    return out


def flush_selection_events() -> dict[str, Any]:
    """Beat's periodic drain (every ``metrics_flush_interval_s``) with the configured Redis and DB."""
    settings = get_settings()
    return drain_events(redis_client(settings), settings.database_url,
                        orphan_after_s=2.0 * settings.metrics_task_time_limit_s)
