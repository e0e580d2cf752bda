"""One round trip per cached read: check the version, read, count the hit or miss.

The request path must not pay for statistics with extra round trips, and must never write
to a database. A small Lua script does, atomically and server side: compare
``CURRENT_VERSION`` with the version the caller resolved against (a mismatch returns the
new version and counts nothing, so the caller re-resolves), pick the ``full`` selection
when the strategy flag says so, ``GET`` the value (one stored by content: its digest in the
version's refs hash, then the value, in the same call) and ``HINCRBY`` hits or misses on the
cache type's stats hash. The caller's measured time cannot be known before the call, so it
is carried to the type's *next* call (``Timings``) and lags by one read per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentload.reader.codec import text

CACHE_TYPES = ("agent_definitions", "user_context", "workflow_state", "selections")

# KEYS: 1 CURRENT_VERSION, 2 STRATEGY, 3 key to read, 4 key read instead when strategy=full,
#       5 stats hash
# ARGV: 1 expected version ("" = no check), 2 time to add (us), 3 timed reads to add,
#       4 "1" when KEYS[4] applies, 5 "1" to count hits only (a probe whose caller, on a miss,
#       takes the full path that counts it)
#       6 (optional) an entry of a version's refs hash (KEYS[3] is then that hash): the value
#         is the content key its digest names (``keys.content_key``), read in the same call
#       7 (with 6) ``keys.CONTENT_PREFIX``
# allow-oom (Redis 7 script flag): the read keeps working when Redis is out of memory under
# noeviction; its only writes are counters on existing fields, a few bytes at most
READ_COUNTED = """#!lua flags=allow-oom
local cur = false
if ARGV[1] ~= '' then
  cur = redis.call('GET', KEYS[1])
  if cur ~= ARGV[1] then return {cur, false, false} end
end
local strategy = redis.call('GET', KEYS[2])
local key = KEYS[3]
if ARGV[4] == '1' and strategy == 'full' then key = KEYS[4] end
local value
if ARGV[6] then
  local digest = redis.call('HGET', key, ARGV[6])
  value = digest and redis.call('GET', ARGV[7] .. digest)
else
  value = redis.call('GET', key)
end
if value then
  redis.call('HINCRBY', KEYS[5], 'hits', 1)
elseif ARGV[5] ~= '1' then
  redis.call('HINCRBY', KEYS[5], 'misses', 1)
end
if tonumber(ARGV[3]) > 0 then
  redis.call('HINCRBY', KEYS[5], 'time_us', ARGV[2])
  redis.call('HINCRBY', KEYS[5], 'timed', ARGV[3])
end
return {cur, strategy, value}
"""
READ_COUNTED_SHA = hashlib.sha1(READ_COUNTED.encode()).hexdigest()  # noqa: S324 - Redis' script id


@dataclass
class Timings:
    """Per cache type: microseconds and read count measured but not yet sent to Redis."""

    pending: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, cache_type: str, seconds: float) -> None:
        us, n = self.pending.get(cache_type, (0, 0))
        self.pending[cache_type] = (us + int(seconds * 1_000_000), n + 1)

    def take(self, cache_type: str) -> tuple[int, int]:
        """What to send with the next read of this type (and forget it locally)."""
        return self.pending.pop(cache_type, (0, 0))

    def restore(self, cache_type: str, us: int, n: int) -> None:
        """Put back what a failed call did not deliver."""
        if n:
            old_us, old_n = self.pending.get(cache_type, (0, 0))
            self.pending[cache_type] = (old_us + us, old_n + n)


def parse_counters(raw: Mapping[Any, Any] | list[Any]) -> dict[str, int]:
    """A stats hash (HGETALL dict or flat Lua reply) as ``{field: int}``."""
    pairs = raw.items() if isinstance(raw, Mapping) else zip(raw[::2], raw[1::2], strict=True)
    return {text(k) or "": int(v) for k, v in pairs}


def hit_summary(raw: Mapping[Any, Any] | list[Any]) -> dict[str, Any]:
    """Hits, misses, hit rate and mean read time of one stats hash."""
    c = parse_counters(raw)
    hits, misses = c.get("hits", 0), c.get("misses", 0)
    timed = c.get("timed", 0)
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": hits / (hits + misses) if hits + misses else None,
        "avg_time_ms": c.get("time_us", 0) / timed / 1000 if timed else None,
    }
