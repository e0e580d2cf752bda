"""Writing a catalog version's keys, and the one transaction that makes it current.

Every key of a new version is written under a version id nobody reads yet, with a safety TTL
so that a build killed half-way leaves nothing behind, and listed in the version's index set.
A chunk of keys is one script call (``SET ... EX`` for each, one ``SADD`` to the index, the
index's ``EXPIRE``): command count, not bytes, is what a Python client pays for.

Agent definitions, work items and referenced files are stored once by content and listed in
the version's refs hash (``content``): an item whose value is ``Shared`` names an entry of that
hash, not a key, and only the values that are new are sent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import redis

from agentload import keys
from agentload.publish.content import Shared, copy_refs, put_shared, settle_refs
from agentload.publish.digests import hash_mapping
from agentload.publish.retire import retire_versions
from agentload.reader.codec import text

CHUNK = 250  # keys per script call while writing a version (larger measured no faster)...
CHUNK_BYTES = 8 << 20  # ...or fewer when the values are large (bounded client buffers)
KEEP_VERSIONS = 50  # entries kept in the VERSIONS sorted set (history, not data)
AHEAD = 4  # chunks produced ahead of Redis at most (bounded memory: 4 x CHUNK_BYTES)

_SET_ALL = """
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[1]) end
redis.call('SADD', KEYS[1], unpack(KEYS, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return #KEYS - 1
"""
SHARED_CHUNK = 1000  # entries per script call when their values are not sent

#: (cache type, key, its value) or (cache type, refs entry, its ``content.Shared`` value)
Item = tuple[str, str, "bytes | Shared"]


def write_version(r: redis.Redis, version: str, items: Iterable[Item], ttl_s: int, base: str | None = None
                  ) -> tuple[list[str], dict[str, int], int]:
    """Write every item with a safety TTL, indexing the keys; returns (keys, bytes by type,
    shared values not sent because an earlier publish stored them). The index expires from
    its first members on. ``base``: the version whose publish gave the digests of the shared
    values not sent; while it is live its refs hash is copied and those entries are not sent
    at all (``content.copy_refs``).

    Chunks go to Redis from a second thread while this one produces the next ones (the
    items are usually computed as they are consumed): Redis works on one chunk while Python
    makes the next, instead of each waiting for the other. At most ``AHEAD`` chunks wait.
    Shared values found gone (evicted, expired) are sent once every chunk is written; an
    error in the sending thread is raised here.
    """
    index = keys.version_index_key(version)
    set_all = r.register_script(_SET_ALL)
    written: list[str] = []
    sizes: dict[str, int] = {}
    sets: list[tuple[str, bytes]] = []
    shared: list[tuple[str, Shared]] = []
    lost: list[tuple[str, Shared]] = []
    pending, shared_bytes, n_kept, n_shared = 0, 0, 0, 0
    copied = base is not None and copy_refs(r, base, version, ttl_s)
    seen: set[str] = set()
    kept: dict[str, Shared] = {}  # entries the copy lists already (not sent)

    def send_sets(chunk: list[tuple[str, bytes]]) -> None:
        set_all(keys=[index, *(k for k, _ in chunk)], args=[ttl_s, *(v for _, v in chunk)])

    def send_shared(chunk: list[tuple[str, Shared]]) -> None:
        lost.extend(put_shared(r, version, chunk, ttl_s))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="version-writer") as sender:
        waiting: deque[Future[None]] = deque()

        def submit(send: Callable[[Any], None], chunk: list[Any]) -> None:
            waiting.append(sender.submit(send, list(chunk)))
            chunk.clear()
            while len(waiting) > AHEAD:
                waiting.popleft().result()

        for cache_type, key, value in items:
            if isinstance(value, Shared):
                size, n_shared = value.size, n_shared + 1
                if copied:
                    seen.add(key)
                if value.value is None:
                    n_kept += 1
                    if copied:
                        kept[key] = value
                    else:
                        shared.append((key, value))
                else:
                    shared.append((key, value))
                    shared_bytes += size
            else:
                written.append(key)
                sets.append((key, value))
                size = len(value)
                pending += size
            sizes[cache_type] = sizes.get(cache_type, 0) + size
            if len(sets) >= CHUNK or pending >= CHUNK_BYTES:
                submit(send_sets, sets)
                pending = 0
            if len(shared) >= SHARED_CHUNK or shared_bytes >= CHUNK_BYTES:
                submit(send_shared, shared)
                shared_bytes = 0
        if shared:
            submit(send_shared, shared)
        if sets:
            submit(send_sets, sets)
        while waiting:
            waiting.popleft().result()
    for i in range(0, len(lost), CHUNK):  # values gone (evicted, expired): sent after all
        put_shared(r, version, [(e, Shared.of(s.bytes())) for e, s in lost[i:i + CHUNK]], ttl_s)
    if copied:
        settle_refs(r, version, seen, kept, ttl_s)
    if n_shared or copied:
        written.append(keys.refs_key(version))
    return written, sizes, n_kept - len(lost)


# The switch's script: the new version's keys made permanent, read from its index set inside
# Redis (members of an index are the version's keys, ``write_version``); names of 25,000 keys
# used to go through this process; and the shared values its build stored or kept from
# expiring (its fresh set, ``content``), the others being permanent already. It is queued in
# the switch's ``MULTI``, so the switch stays atomic. The previous version is retired after
# the switch (``retire``). KEYS: new index, its fresh set; ARGV: keys.CONTENT_PREFIX
_SWITCH = """
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('PERSIST', k) end
redis.call('PERSIST', KEYS[1])
for _, d in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('PERSIST', ARGV[1] .. d) end
redis.call('DEL', KEYS[2])
return 0
"""


def switch_version(
    r: redis.Redis,
    version: str,
    written: list[str],
    *,
    ttl_old_s: int,
    fingerprints: Mapping[str, str] | None = None,
    stored_fingerprints: Mapping[str, str] | None = None,
) -> str | None:
    """Make ``version`` current in one transaction; returns the version it replaced.

    The transaction removes the new keys' TTLs (and those of the shared values its build
    stored), points ``CURRENT_VERSION`` at the version,
    records it in ``VERSIONS`` and stores the file fingerprints the refresh compares against;
    then the previous version's keys get their expiry (``retire.retire_versions``). ``written``
    are the keys ``write_version`` wrote (all in the version's index, which the switch reads
    in Redis).

    ``stored_fingerprints``: what ``keys.FINGERPRINTS`` holds (the refresh read it under its
    lock); only the entries that differ are written (one after an edit, instead of rewriting
    10,000). The hash is watched too: if it changed meanwhile, the retry rewrites it whole.
    """
    index = keys.version_index_key(version)
    previous: list[str | None] = [None]
    attempts = [0]

    def step(pipe: redis.client.Pipeline) -> None:
        attempts[0] += 1
        prev = text(pipe.get(keys.CURRENT_VERSION))
        previous[0] = prev
        pipe.multi()
        pipe.eval(_SWITCH, 2, index, keys.fresh_content_key(version), keys.CONTENT_PREFIX)
        pipe.set(keys.CURRENT_VERSION, version)
        pipe.zadd(keys.VERSIONS, {version: time.time()})
        pipe.zremrangebyrank(keys.VERSIONS, 0, -(KEEP_VERSIONS + 1))
        for cache_type in ("agent_definitions", "selections"):
            pipe.hincrby(keys.stats_key(cache_type), "refreshes", 1)
        if fingerprints is not None:
            _store_fingerprints(pipe, fingerprints, stored_fingerprints if attempts[0] == 1 else None)

    r.transaction(step, keys.CURRENT_VERSION, keys.FINGERPRINTS)
    retire_versions(r, version, previous[0], ttl_old_s)
    return previous[0]


def _store_fingerprints(pipe: redis.client.Pipeline, new: Mapping[str, str], stored: Mapping[str, str] | None
                        ) -> None:
    """Queue the writes that make ``keys.FINGERPRINTS`` equal ``new``: the differences from
    ``stored`` when that is what the hash holds, else the whole hash again."""
    if stored is None:
        pipe.delete(keys.FINGERPRINTS)
        if new:
            pipe.hset(keys.FINGERPRINTS, mapping=hash_mapping(new))
        return
    gone = [f for f in stored if f not in new]
    moved = {f: v for f, v in new.items() if stored.get(f) != v}
    if gone:
        pipe.hdel(keys.FINGERPRINTS, *gone)
    if moved:
        pipe.hset(keys.FINGERPRINTS, mapping=hash_mapping(moved))
