"""The cache reader (design "Cache reader API"): the API's only source of catalog data.

Reads follow ``CURRENT_VERSION``; the resolver data of a version is cached in-process (a
version is immutable), so a selection lookup is a local ``resolve`` plus one Lua round trip
that checks the version is still current, reads the value and counts the hit or miss
(``agentload.reader.counting``). When a new version was published in between, the script
says so and the lookup re-resolves against it. Redis connection errors propagate
(``redis.exceptions.ConnectionError``; the API maps them to 503).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from agentload import keys
from agentload.context import Context, Resolved, ResolverData
from agentload.keys import FULL_KEY
from agentload.reader.codec import dumps, loads, text
from agentload.reader.counting import CACHE_TYPES, READ_COUNTED, READ_COUNTED_SHA, Timings, hit_summary
from agentload.reader.integrity import required_keys
from agentload.reader.manifests import ManifestReader, ManifestUnavailable
from agentload.reader.shared import READ_SHARED, read_shared
from agentload.resolve import resolve
from agentload.selection.models import STRATEGIES
from agentload.settings import get_settings

MAX_SWITCHES = 5  # version changes tolerated within one lookup before giving up
RESOLVER_CACHE = 4  # versions whose resolver data a process keeps
GAP_SAMPLE = 16  # index members a readiness probe checks


class Link(Protocol):
    """A connection that sends one command and returns its reply (``api.redislink``)."""

    async def call(self, *args: Any) -> Any: ...  # noqa: ANN401 - a RESP reply


async def _eval_counted(link: Link, script_keys: list[str], args: list[Any]) -> Any:  # noqa: ANN401 - RESP
    """The counted read by its SHA; on ``NOSCRIPT`` (a restarted Redis) by its source, which
    caches it again."""
    try:
        return await link.call("EVALSHA", READ_COUNTED_SHA, len(script_keys), *script_keys, *args)
    except ResponseError as exc:
        if not str(exc).startswith("NOSCRIPT"):
            raise
        return await link.call("EVAL", READ_COUNTED, len(script_keys), *script_keys, *args)


class CatalogNotPublished(LookupError):
    """No catalog version is current (the preload has not run) or its data is gone."""


class CatalogStore:
    """Async reader over one ``redis.asyncio.Redis`` client (share one per process)."""

    def __init__(self, redis: aioredis.Redis, default_strategy: str | None = None) -> None:
        self._redis = redis
        self._script = redis.register_script(READ_COUNTED)
        self.shared_script = redis.register_script(READ_SHARED)
        self._resolvers: dict[str, ResolverData] = {}
        self.manifests = ManifestReader(redis, RESOLVER_CACHE)
        self._version: str | None = None  # last version seen current (optimistic)
        self._default_strategy = default_strategy
        self.timings = Timings()

    # ------------------------------------------------------------------ versions
    async def current_version(self) -> str | None:
        version = text(await self._redis.get(keys.CURRENT_VERSION))
        self._version = version
        return version

    async def _require_version(self) -> str:
        version = await self.current_version()
        if version is None:
            raise CatalogNotPublished("no catalog version is published yet")
        return version

    async def resolver(self, version: str) -> ResolverData:
        cached = self._resolvers.get(version)
        if cached is not None:
            return cached
        raw = await self._redis.get(keys.resolver_key(version))
        if raw is None:
            raise CatalogNotPublished(f"catalog version {version} has no resolver data (expired?)")
        data = ResolverData.model_validate_json(raw)
        while len(self._resolvers) >= RESOLVER_CACHE:
            self._resolvers.pop(next(iter(self._resolvers)))
        self._resolvers[version] = data
        return data

    async def fill_manifest(self, version: str, value: Any) -> Any:  # noqa: ANN401 - JSON
        """A stored selection with its manifest text (``ManifestReader.fill``)."""
        try:
            return await self.manifests.fill(version, value)
        except ManifestUnavailable as exc:
            raise CatalogNotPublished(str(exc)) from exc

    async def search(self, query: str, limit: int) -> tuple[str, int, list[tuple[str, str]]]:
        """(current version, lines searched, [(id, manifest line)] best first): the agents and
        skills of the live version whose manifest lines match ``query`` (``ManifestReader.search``)."""
        version = await self._require_version()
        try:
            total, hits = await self.manifests.search(version, query, limit)
        except ManifestUnavailable as exc:
            raise CatalogNotPublished(str(exc)) from exc
        return version, total, hits

    async def version_gaps(self, version: str, sample: int = GAP_SAMPLE) -> int:
        """Keys missing from ``version``: its fixed keys, a random sample of its index and of
        its shared values (``cache.integrity``); two round trips, cheap enough for every
        readiness probe."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.srandmember(keys.version_index_key(version), sample)
        pipe.hrandfield(keys.refs_key(version), sample, withvalues=True)
        reply, refs = await pipe.execute()
        members = [m for m in (text(k) for k in cast(list[bytes], reply or [])) if m]
        values = [keys.content_key(text(d) or "") for d in cast(list[bytes], refs or [])[1::2]]
        wanted = list(dict.fromkeys([*required_keys(version), *members, *values]))
        return len(wanted) - int(await self._redis.exists(*wanted))

    # ------------------------------------------------------------------ counted reads
    async def _read(self, cache_type: str, key: str, *, expect: str = "", full_key: str | None = None,
                    entry: str = "") -> tuple[str | None, str | None, Any]:
        """(current version or None, strategy flag, parsed value) in one round trip."""
        cur, strategy, raw = await self._counted(cache_type, key, expect, full_key, hits_only=False, entry=entry)
        return cur, strategy, loads(raw)

    async def _counted(self, cache_type: str, key: str, expect: str, full_key: str | None, *,
                       hits_only: bool, link: Link | None = None, entry: str = "",
                       ) -> tuple[str | None, str | None, bytes | None]:
        """One counted read (``counting.READ_COUNTED``); with ``entry``, ``key`` is a version's
        refs hash and the value read is the one that entry names."""
        us, n = self.timings.take(cache_type)
        script_keys = [keys.CURRENT_VERSION, keys.STRATEGY, key, full_key or key, keys.stats_key(cache_type)]
        args: list[str | int] = [expect, us, n, "1" if full_key else "0", "1" if hits_only else "0",
                                  *((entry, keys.CONTENT_PREFIX) if entry else ())]
        try:
            if link is None:
                reply = await self._script(keys=script_keys, args=args)
            else:
                reply = await _eval_counted(link, script_keys, args)
        except BaseException:
            self.timings.restore(cache_type, us, n)
            raise
        cur, strategy, raw = cast(list[Any], reply)
        return text(cur), text(strategy), raw

    async def probe_selection(self, version: str, selection_key: str, link: Link | None = None,
                              ) -> tuple[str | None, str | None, bytes | None]:
        """(current version, strategy flag, stored selection bytes or None) of a selection
        resolved against ``version``, in one round trip; counts a hit, never a miss (the
        caller of a miss or of a changed version takes ``get_selection``, which counts it).
        For the API's hot path (``api.hotpath``), over its ``link`` when given."""
        return await self._counted("selections", keys.selection_key(version, selection_key), version,
                                   keys.selection_key(version, FULL_KEY), hits_only=True, link=link)

    @property
    def known_version(self) -> str | None:
        """The version this process last saw current (None before its first read)."""
        return self._version

    async def get_selection(self, ctx: Context) -> tuple[str, Resolved, dict[str, Any] | None]:
        """(version, resolved context, stored selection or None); counts ``selections``."""
        started = time.perf_counter()
        version = self._version or await self._require_version()
        for _ in range(MAX_SWITCHES):
            try:
                data = await self.resolver(version)
            except CatalogNotPublished:
                fresh = await self._require_version()
                if fresh == version:
                    raise
                version = fresh
                continue
            resolved = resolve(ctx, data)
            cur, _, value = await self._read(
                "selections", keys.selection_key(version, resolved.key()), expect=version,
                full_key=keys.selection_key(version, FULL_KEY),
            )
            if cur != version:
                if cur is None:
                    raise CatalogNotPublished("no catalog version is published")
                version = self._version = cur
                continue
            self._version = version
            value = await self.fill_manifest(version, value)
            self.timings.add("selections", time.perf_counter() - started)
            return version, resolved, value
        raise CatalogNotPublished(f"catalog version changed {MAX_SWITCHES} times during one lookup")

    async def get_agent(self, agent_id: str, version: str | None = None) -> dict[str, Any] | None:
        """An agent definition of ``version`` (default: current); counts ``agent_definitions``."""
        started = time.perf_counter()
        if version is not None:
            _, _, value = await self._read("agent_definitions", keys.refs_key(version),
                                           entry=keys.agent_entry(agent_id))
        else:
            expect = self._version or await self._require_version()
            for _ in range(MAX_SWITCHES):
                cur, _, value = await self._read("agent_definitions", keys.refs_key(expect),
                                                 expect=expect, entry=keys.agent_entry(agent_id))
                if cur == expect:
                    break
                if cur is None:
                    raise CatalogNotPublished("no catalog version is published")
                expect = self._version = cur
            else:
                raise CatalogNotPublished(f"catalog version changed {MAX_SWITCHES} times during one lookup")
        self.timings.add("agent_definitions", time.perf_counter() - started)
        return cast(dict[str, Any] | None, value)

    async def get_work_item(self, work_item_id: str, version: str) -> dict[str, Any] | None:
        """A work item of ``version`` with its entry file's text (``publish.work_item_payloads``)."""
        raw, = await read_shared(self.shared_script, version, [keys.work_item_entry(work_item_id)])
        return cast(dict[str, Any] | None, loads(raw))

    async def get_file(self, path: str, version: str) -> dict[str, Any] | None:
        """A file a work item of ``version`` references: path, tokens, text (``publish.file_payloads``)."""
        raw, = await read_shared(self.shared_script, version, [keys.file_entry(path)])
        return cast(dict[str, Any] | None, loads(raw))

    async def get_manifest(self, version: str | None = None) -> dict[str, Any] | None:
        version = version or await self._require_version()
        return cast(dict[str, Any] | None, loads(await self._redis.get(keys.manifest_key(version))))

    # ------------------------------------------------------------------ flags and state
    async def get_strategy(self) -> str:
        flag = text(await self._redis.get(keys.STRATEGY))
        if flag in STRATEGIES:
            return flag
        if self._default_strategy is None:
            self._default_strategy = get_settings().strategy
        return self._default_strategy

    async def set_strategy(self, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        await self._redis.set(keys.STRATEGY, strategy)

    async def get_workflow_state(self, project_id: str) -> dict[str, Any] | None:
        return await self._counted_plain("workflow_state", keys.workflow_state_key(project_id))

    async def put_workflow_state(self, project_id: str, state: dict[str, Any]) -> None:
        await self._redis.set(keys.workflow_state_key(project_id), dumps(state))

    async def _counted_plain(self, cache_type: str, key: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        _, _, value = await self._read(cache_type, key)
        self.timings.add(cache_type, time.perf_counter() - started)
        return cast(dict[str, Any] | None, value)

    async def flush_timings(self) -> None:
        """Send measured times that are still waiting for their type's next read."""
        pipe = self._redis.pipeline(transaction=False)
        for cache_type in list(self.timings.pending):
            us, n = self.timings.take(cache_type)
            pipe.hincrby(keys.stats_key(cache_type), "time_us", us)
            pipe.hincrby(keys.stats_key(cache_type), "timed", n)
        await pipe.execute()

    # ------------------------------------------------------------------ status
    async def status(self) -> dict[str, Any]:
        """Version, key counts, memory, hit rate per type (since the last flush), last refresh."""
        version = await self.current_version()
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(keys.meta_key(version or ""))
        for cache_type in CACHE_TYPES:
            pipe.hgetall(keys.stats_key(cache_type))
        pipe.get(keys.LAST_REFRESH)
        pipe.dbsize()
        pipe.info("memory")
        pipe.zcard(keys.VERSIONS)
        pipe.llen(keys.ERRORS)
        raw_meta, *stats, last, dbsize, memory, n_versions, n_errors = await pipe.execute()
        meta = loads(raw_meta) if version else None
        return {
            "version": version,
            "published_at": meta.get("published_at") if meta else None,
            "agents": meta.get("agents") if meta else 0,
            "selections": meta.get("selections") if meta else 0,
            "version_bytes": meta.get("bytes") if meta else 0,
            "catalog_errors": meta.get("errors", []) if meta else [],
            "keys": int(dbsize),
            "memory_bytes": int(memory.get("used_memory", 0)),
            "versions": int(n_versions),
            "refresh_errors": int(n_errors),
            "hit_rate": {t: hit_summary(s) for t, s in zip(CACHE_TYPES, stats, strict=True)},
            "last_refresh": loads(last),
            "catalog_refused": (loads(last) or {}).get("refused") if last else None,
        }
