"""Values stored once by content, listed per version: what a publish writes for them.

Between two versions of a large catalog nearly every agent definition, work item and
referenced file is byte for byte the same. Copying each of them under the new version's keys
(``COPY``, server side) still cost Redis about 57 MB and 10,000 commands per version at
10,000 agents. So each such value lives once under the digest of its bytes
(``keys.content_key``) and a version only lists entry -> digest in its refs hash
(``keys.refs_key``); a publish sends the values that are new and, for the others, their
digests (which the last publish of this process remembers, ``reuse``).

A version's refs hash starts as a server-side copy of the live version's when the publish
continues from it (``copy_refs``, about 5 ms where sending 10,411 digests took about 105):
then only the entries that changed are sent, and ``settle_refs`` drops the entries the new
version no longer has. A copy lists values of the live version, all permanent; one the copy
lists that was evicted meanwhile is found by the next integrity check (``reader.integrity``),
whose republish sends every value again.

Lifetimes: a value a build writes (or finds about to expire) gets the build's safety TTL and
its digest goes to the version's ``fresh`` set; the switch makes exactly those permanent
(``writer.switch_version``), so the values of a live version carry no TTL. Retiring a version
gives its values that the live version does not list the old version's expiry (``retire``).
Publishes run one at a time (the refresh lock), so no retirement races a build's writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from agentload import keys


def content_digest(value: bytes) -> str:
    """The digest that names a stored value (``keys.content_key``)."""
    return hashlib.blake2b(value, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Shared:
    """A value stored by content: its digest and size, its bytes or None when an earlier
    publish stored them (``make`` produces them if they are gone meanwhile)."""

    digest: str
    size: int
    value: bytes | None = None
    make: Callable[[], bytes] | None = None

    @classmethod
    def of(cls, value: bytes) -> Shared:
        return cls(content_digest(value), len(value), value)

    def bytes(self) -> bytes:
        if self.value is not None:
            return self.value
        assert self.make is not None, "a shared value without bytes needs a way to make them"
        return self.make()


# KEYS: 1 the version's index, 2 its refs hash, 3 its fresh set, 4.. n content keys.
# ARGV: 1 ttl, then n entries, n digests, n values ("" = already stored, not sent).
# A missing value that was not sent is reported (its 1-based position); one with a TTL shorter
# than the build's gets the build's. Returns the positions of the values that were gone.
PUT_SHARED = """
local n, ttl = #KEYS - 3, tonumber(ARGV[1])
local gone, fields, fresh = {}, {}, {}
for i = 1, n do
  local k, v = KEYS[3 + i], ARGV[1 + 2 * n + i]
  local left = redis.call('TTL', k)
  if left == -2 then
    if v == '' then
      gone[#gone + 1] = i
    else
      redis.call('SET', k, v, 'EX', ttl)
      fresh[#fresh + 1] = ARGV[1 + n + i]
    end
  elseif left >= 0 then
    if left < ttl then redis.call('EXPIRE', k, ttl) end
    fresh[#fresh + 1] = ARGV[1 + n + i]
  end
  fields[#fields + 1] = ARGV[1 + i]
  fields[#fields + 1] = ARGV[1 + n + i]
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('EXPIRE', KEYS[2], ttl)
if #fresh > 0 then
  redis.call('SADD', KEYS[3], unpack(fresh))
  redis.call('EXPIRE', KEYS[3], ttl)
end
redis.call('SADD', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[1], ttl)
return gone
"""


def put_shared(r: redis.Redis, version: str, chunk: list[tuple[str, Shared]], ttl_s: int, *,
               send_all: bool = False) -> list[tuple[str, Shared]]:
    """List ``chunk`` (entry, value) in ``version``'s refs hash and store the values sent;
    returns the items whose value was not sent and is gone (``send_all``: send every value)."""
    script = r.register_script(PUT_SHARED)
    values = [s.bytes() if send_all else (s.value or b"") for _, s in chunk]
    gone = script(keys=[keys.version_index_key(version), keys.refs_key(version), keys.fresh_content_key(version),
                        *(keys.content_key(s.digest) for _, s in chunk)],
                  args=[ttl_s, *(e for e, _ in chunk), *(s.digest for _, s in chunk), *values])
    return [chunk[int(i) - 1] for i in gone or []]


# KEYS: 1 CURRENT_VERSION, 2 the base version's refs, 3 the new version's refs, 4 its index.
# ARGV: 1 base version, 2 ttl. Copies the refs hash only while the base is live: the values a
# live version lists carry no TTL, so nothing copied needs making permanent at the switch.
COPY_REFS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('COPY', KEYS[2], KEYS[3], 'REPLACE') == 0 then return 0 end
redis.call('EXPIRE', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], KEYS[3])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return 1
"""


def copy_refs(r: redis.Redis, base: str, version: str, ttl_s: int) -> bool:
    """Start ``version``'s refs hash as a copy of the live ``base``'s (False: ``base`` is not
    live or has no refs; then every entry is sent)."""
    script = r.register_script(COPY_REFS)
    return bool(script(keys=[keys.CURRENT_VERSION, keys.refs_key(base), keys.refs_key(version),
                             keys.version_index_key(version)], args=[base, ttl_s]))


def settle_refs(r: redis.Redis, version: str, seen: set[str], kept: dict[str, Shared], ttl_s: int) -> int:
    """Make a copied refs hash list exactly ``seen``: drop the base's entries this version does
    not have, add any ``kept`` entry (not sent: listed by the base) that the copy lacks; returns
    how many entries were fixed. One ``HLEN`` when nothing is to be fixed (the usual case)."""
    refs = keys.refs_key(version)
    if int(r.hlen(refs)) == len(seen):  # it holds every entry seen (copied or sent): exactly those
        return 0
    listed = {e.decode() if isinstance(e, bytes) else str(e) for e in r.hkeys(refs)}
    extra = sorted(listed - seen)
    if extra:
        r.hdel(refs, *extra)
    lacking = [(e, kept[e]) for e in sorted(seen - listed) if e in kept]
    if lacking:
        gone = put_shared(r, version, lacking, ttl_s)
        if gone:
            put_shared(r, version, [(e, Shared.of(s.bytes())) for e, s in gone], ttl_s)
    return len(extra) + len(lacking)
