"""Drain the served-selection events from Redis into ``agent_loading_metrics`` and ``token_optimization``.

The request path (API and MCP server) only ``RPUSH``es one compact JSON event per served
selection to ``keys.SELECTION_EVENTS``; this job empties it from the head in batches, so the
database never sits on the request path. Exactly-once, by construction:

* a batch is *moved* atomically (Lua: ``LRANGE`` + ``LTRIM`` + ``RPUSH`` into a per-flush key
  with a TTL), so two concurrent flushes never take the same event;
* the batch is written in one SQL transaction (both tables);
* only after the commit is the per-flush key deleted. If the write fails, the batch is put
  back at the head in its original order before the error propagates (the task retries),
  so nothing is lost and the next flush writes it once. A process killed between the commit
  and the delete leaves the taken key to expire (``TAKEN_TTL_S``) rather than be counted twice.

An event that cannot become a row (not JSON, wrong types) would otherwise block the queue
forever; it is moved to ``keys.SELECTION_EVENTS_DEAD`` (capped) and counted instead.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import redis

from agentload import keys
from agentload.jobs.runtime import redis_client
from agentload.settings import get_settings
from models import repository, rows
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
    rows.normalize(loading, rows.AGENT_LOADING, index=0, table="agent_loading_metrics")
    rows.normalize(tokens, rows.TOKEN_OPTIMIZATION, index=0, table="token_optimization")
    return loading, tokens


def write_rows(db_url: str, loading: list[dict[str, Any]], tokens: list[dict[str, Any]]) -> None:
    """Both tables in one transaction: an event is stored completely or not at all."""
    with session_scope(db_url) as session:
        repository.insert_agent_loading_metrics(session, loading)
        repository.insert_token_optimization(session, tokens)


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
                 ) -> dict[str, Any]:
    """Move up to ``batch x max_batches`` events into SQL; see the module doc for the guarantees."""
    flush_id = uuid.uuid4().hex
    taken_key = keys.events_flush_key(flush_id)
    take, give_back = r.register_script(TAKE), r.register_script(GIVE_BACK)
    out: dict[str, Any] = {"flush_id": flush_id, "events": 0, "agent_loading_metrics": 0, "token_optimization": 0,
           "invalid": 0, "batches": 0}
    for _ in range(max_batches):
        items: list[bytes] = take(keys=[keys.SELECTION_EVENTS, taken_key], args=[batch, TAKEN_TTL_S])
        if not items:
            break
        loading, tokens, bad = _convert(items)
        try:
            write_rows(db_url, loading, tokens)
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
    return drain_events(redis_client(settings), settings.database_url)
