"""Retiring superseded catalog versions: their keys get their expiry once a newer one is live.

The pointer switch (``writer.switch_version``) is what readers wait for; giving the previous
version's 25,000 keys of a 10,000-agent catalog their expiry is not, and used to take about
half of the switch's transaction. So it runs right after the transaction, in a script of its
own that reads the version's index inside Redis and counts the keys by type into the caches'
"evictions" (readers that resolved the old pointer still find its keys for ``ttl_old_s``).
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

# KEYS: agent stats, selection stats, then the index of each version to retire
# ARGV: ttl, then per version its agent key prefix and its selection key prefix
_RETIRE = """
local agents, selections, n = 0, 0, 0
for i = 3, #KEYS do
  local ap, sp = ARGV[2 * (i - 2)], ARGV[2 * (i - 2) + 1]
  for _, k in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    redis.call('EXPIRE', k, ARGV[1])
    n = n + 1
    if string.find(k, ap, 1, true) == 1 then agents = agents + 1
    elseif string.find(k, sp, 1, true) == 1 then selections = selections + 1 end
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'evictions', agents)
redis.call('HINCRBY', KEYS[2], 'evictions', selections)
return n
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
    left without expiry their expiry, counting their keys as evictions; returns how many keys."""
    versions = list(dict.fromkeys([*([previous] if previous and previous != current else []),
                                   *unretired(r, current)]))
    if not versions:
        return 0
    args: list[str | int] = [max(1, int(ttl_old_s))]
    for v in versions:
        args += [keys.agent_key(v, ""), keys.selection_key(v, "")]
    return int(r.eval(_RETIRE, 2 + len(versions), keys.stats_key("agent_definitions"), keys.stats_key("selections"),
                      *(keys.version_index_key(v) for v in versions), *args))
