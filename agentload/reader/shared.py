"""Reading values stored by content: a version's entry -> digest -> value, in one round trip.

Agent definitions, work items and referenced files are stored once under the digest of their
bytes (``keys.content_key``), and each version lists its own in a hash (``keys.refs_key``:
entry -> digest), so a publish that changes one agent writes one value instead of copying
10,000 (``publish.writer``). A read must stay one Redis round trip: ``READ_SHARED`` looks the
entries up in the version's hash and reads their values in the same call. Content keys are
computed inside the script from the digests, which only a standalone Redis (the supported
deployment) allows; a cluster would need the refs and values in one hash slot.

The scripts are registered once per client (``register_script``: ``EVALSHA``, and the source
again after a Redis restart forgot it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import redis
from redis.commands.core import AsyncScript

from agentload import keys

# KEYS: 1 a version's refs hash; ARGV: 1 keys.CONTENT_PREFIX, 2.. entries.
# Returns each entry's value, or nil when the entry or its value is missing.
READ_SHARED = """#!lua flags=no-writes,allow-oom
local digests = redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
local out = {}
for i = 1, #digests do
  local d = digests[i]
  if d then out[i] = redis.call('GET', ARGV[1] .. d) else out[i] = false end
end
return out
"""
PART = 1000  # entries per call (Lua's unpack has a stack limit of a few thousand)


async def read_shared(script: AsyncScript, version: str, entries: Sequence[str]) -> list[bytes | None]:
    """The values of ``entries`` of ``version`` (None where missing), one call per ``PART``.
    ``script``: ``READ_SHARED`` registered on an async client."""
    out: list[bytes | None] = []
    for i in range(0, len(entries), PART):
        out += cast(list[bytes | None], await script(keys=[keys.refs_key(version)],
                                                    args=[keys.CONTENT_PREFIX, *entries[i:i + PART]]))
    return out


def read_shared_sync(r: redis.Redis, version: str, entries: Sequence[str]) -> list[bytes | str | None]:
    """``read_shared`` over a synchronous client (workers, tests, benchmarks; ``str`` from a
    client that decodes responses)."""
    script = r.register_script(READ_SHARED)
    out: list[bytes | str | None] = []
    for i in range(0, len(entries), PART):
        out += cast(list[bytes | str | None], script(keys=[keys.refs_key(version)],
                                               args=[keys.CONTENT_PREFIX, *entries[i:i + PART]]))
    return out


def agent_value(r: redis.Redis, version: str, agent_id: str) -> bytes | str | None:
    """The stored definition of ``agent_id`` in ``version`` (its JSON bytes), None if missing."""
    return read_shared_sync(r, version, [keys.agent_entry(agent_id)])[0]


def missing_content(r: redis.Redis, version: str) -> int:
    """Entries of ``version`` whose value is gone (evicted, deleted): one ``HVALS`` and one
    ``EXISTS`` per ``PART`` distinct digests."""
    digests = sorted({d.decode() if isinstance(d, bytes) else str(d) for d in r.hvals(keys.refs_key(version))})
    present = 0
    for i in range(0, len(digests), PART):
        present += int(r.exists(*(keys.content_key(d) for d in digests[i:i + PART])))
    return len(digests) - present
