"""Retiring superseded catalog versions: their keys get their expiry once a newer one is live.

The pointer switch (``writer.switch_version``) is what readers wait for; giving the previous
version's 25,000 keys of a 10,000-agent catalog their expiry is not, and used to take about
half of the switch's transaction. So it runs right after the transaction, by chunks, and
counts the keys by type into the caches' "evictions" (readers that resolved the old pointer
still find its keys for ``ttl_old_s``).
Values stored by content (``content``) are shared between versions: a retired version's values
get the expiry only when the live version does not list them (compared digest by digest).
A process that dies between the two leaves a superseded version without expiry: each
retirement therefore also retires any of the last ``SWEEP`` published versions that is not
current and whose index still has no expiry (a live version's index never has one).
"""

from __future__ import annotations

from typing import cast

import redis

from agentload import keys
from agentload.reader.codec import text

SWEEP = 5  # latest published versions checked for a retirement that never ran

RETIRE_CHUNK = 1000  # keys given their expiry per script call: Redis is never held for long
# KEYS: the keys to expire; ARGV: ttl
_EXPIRE_ALL = """
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return #KEYS
"""


def unretired(r: redis.Redis, current: str) -> list[str]:
    """Versions among the last ``SWEEP`` published, other than ``current``, whose index has no
    expiry: superseded but never retired."""
    listed = cast(list[bytes | str], r.zrevrange(keys.VERSIONS, 0, SWEEP - 1))
    recent = [v for v in (text(x) for x in listed) if v and v != current]
    pipe = r.pipeline(transaction=False)
    for v in recent:
        pipe.ttl(keys.version_index_key(v))
    return [v for v, ttl in zip(recent, pipe.execute(), strict=True) if ttl == -1]


def retire_versions(r: redis.Redis, current: str, previous: str | None, ttl_old_s: int) -> int:
    """Give ``previous`` (the version ``current`` replaced) and any other superseded version
    left without expiry their expiry, counting their keys as evictions; returns how many keys
    and entries.

    A version's keys get theirs by chunks (``RETIRE_CHUNK`` a script call, so readers wait for
    a few milliseconds at most, where one script over 25,000 keys held Redis for a tenth of a
    second right after the switch); its index gets its expiry last, in one transaction with
    the evictions counted, so a retirement cut short is done again whole, and counted once."""
    versions = list(dict.fromkeys([*([previous] if previous and previous != current else []),
                                   *unretired(r, current)]))
    ttl = max(1, int(ttl_old_s))
    expire_all = r.register_script(_EXPIRE_ALL)
    live = {text(d) for d in r.hvals(keys.refs_key(current))} if versions else set()
    total = 0
    for v in versions:
        index = keys.version_index_key(v)
        members = [m for m in (text(k) for k in r.smembers(index)) if m]
        refs = {text(e) or "": text(d) or "" for e, d in
                r.hgetall(keys.refs_key(v)).items()}
        unshared = sorted({keys.content_key(d) for d in refs.values() if d not in live})
        doomed = unshared + members
        for i in range(0, len(doomed), RETIRE_CHUNK):
            expire_all(keys=doomed[i:i + RETIRE_CHUNK], args=[ttl])
        selection_prefix = keys.selection_key(v, "")
        pipe = r.pipeline(transaction=True)
        pipe.expire(index, ttl)
        pipe.hincrby(keys.stats_key("agent_definitions"), "evictions",
                     sum(e.startswith(keys.AGENT_ENTRY_PREFIX) for e in refs))
        pipe.hincrby(keys.stats_key("selections"), "evictions", sum(m.startswith(selection_prefix) for m in members))
        pipe.execute()
        total += len(members) + len(refs)
    return total
