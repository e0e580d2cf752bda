"""Serving a selection from Redis: shared by the HTTP API and the MCP server (no FastAPI here).

The request path never computes a selection. A context is resolved to its key with the
published resolver data, the precomputed selection is read, and on a miss the work is
handed to the ``agentload.select_text`` task by name. Concurrent misses for the same key
share one task (``SET NX`` on a short-lived pending marker) so a burst of identical cold
requests costs the workers one computation, not one each.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from redis.asyncio import Redis

from agentload import keys
from agentload.api.enqueue import Enqueuer
from agentload.api.problems import NotReady, TooManyMisses
from agentload.api.redact import task_kwargs
from agentload.context import Context, Resolved
from agentload.reader.codec import text
from agentload.reader.shared import read_shared
from agentload.reader.store import CatalogNotPublished, CatalogStore
from agentload.resolve import resolve
from agentload.settings import Settings, get_settings
from agentload.tasknames import TaskName

PENDING_TTL_S = 15  # a lost task is retried by the next miss after this long
NO_CATALOG = "no catalog version is published yet (the preload has not run); retry shortly"

Status = Literal["hit", "computed", "pending"]


class UnknownContext(Exception):
    """The context names something the catalog does not know (``Resolved.unknown``): 404."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__("unknown to this catalog: " + ", ".join(unknown))
        self.unknown = unknown


class NotPrecomputed(Exception):
    """Strategy ``cached`` serves precomputed selections only and this one is not: 404."""


@dataclass
class Outcome:
    status: Status
    version: str
    strategy: str
    resolved: Resolved
    selection: dict[str, Any] | None = None
    task_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON answer for a served selection (``hit`` or ``computed``)."""
        assert self.selection is not None
        resolved = self.resolved.served()
        return {**self.selection, "cache": "hit" if self.status == "hit" else "miss",
                "version": self.version, "resolved": resolved, **self.extra}


class SelectionService:
    def __init__(self, store: CatalogStore, redis: Redis, enqueuer: Enqueuer, limits: Settings | None = None) -> None:
        self.store = store
        self.redis = redis
        self.enqueuer = enqueuer
        self.limits = limits or get_settings()

    async def select(self, ctx: Context, wait_ms: int = 0, client: str | None = None) -> Outcome:
        """Hit, computed within ``wait_ms``, or pending (task enqueued). Raises
        ``UnknownContext``, ``NotPrecomputed`` or ``NotReady``.

        A hit is one Redis round trip: the store's script checks the version, applies the
        strategy flag (``full`` reads the version's full selection) and counts the hit.
        """
        try:
            version, resolved, selection = await self.store.get_selection(ctx)
        except CatalogNotPublished as exc:
            raise NotReady(f"{NO_CATALOG} ({exc})") from exc
        if resolved.unknown:
            raise UnknownContext(resolved.unknown)
        if selection is not None:
            return Outcome("hit", version, str(selection.get("strategy", "selective")), resolved, selection)
        strategy = await self.store.get_strategy()  # only a miss pays for this read
        if strategy == "full":
            raise NotReady(f"catalog version {version} has no precomputed 'full' selection")
        if strategy == "cached":
            raise NotPrecomputed("no precomputed selection for this context, and strategy 'cached' "
                                 "serves precomputed selections only")
        key = resolved.key()
        await self._admit_miss(client)
        task_id = await self._enqueue_once(version, key, ctx)
        if wait_ms > 0:
            found = await self._wait(ctx, version, key, wait_ms)
            if found is not None:
                return Outcome("computed", found[0], strategy, resolved, found[1], task_id)
        return Outcome("pending", version, strategy, resolved, None, task_id)

    async def _admit_miss(self, client: str | None) -> None:
        """Bound what uncached requests can cost: ``miss_rate_per_client`` per minute per
        ``client`` (429; None: a trusted caller, not counted) and ``max_pending_misses``
        enqueued per pending window (503). One round trip, on misses only; counters expire
        with their window."""
        now = time.time()
        minute, window = int(now // 60), int(now // PENDING_TTL_S)
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(keys.pending_misses_key(window))
        pipe.expire(keys.pending_misses_key(window), PENDING_TTL_S * 2)
        if client is not None:
            pipe.incr(keys.miss_rate_key(client, minute))
            pipe.expire(keys.miss_rate_key(client, minute), 120)
        replies = await pipe.execute()
        pending, sent = int(replies[0]), int(replies[2]) if client is not None else 0
        if sent > self.limits.miss_rate_per_client:
            raise TooManyMisses(f"more than {self.limits.miss_rate_per_client} uncached requests a minute from this "
                                "client; repeat ones are served from the cache", 429, 60 - int(now % 60) or 1)
        if pending > self.limits.max_pending_misses:
            raise TooManyMisses("too many uncached requests are being computed; retry shortly", 503,
                                PENDING_TTL_S - int(now % PENDING_TTL_S) or 1)

    async def _enqueue_once(self, version: str, key: str, ctx: Context) -> str:
        marker = keys.version_key(version, "pending", key)
        task_id = str(uuid.uuid4())
        if await self.redis.set(marker, task_id, nx=True, ex=PENDING_TTL_S):
            context = ctx.model_dump(mode="json", exclude_defaults=True)
            try:
                sent = await task_kwargs(self.redis, self.limits, context)  # the text by reference
                return await self.enqueuer.send(TaskName.SELECT_TEXT, sent, task_id=task_id)
            except Exception:
                await self.redis.delete(marker)
                raise
        return text(await self.redis.get(marker)) or task_id

    async def _wait(self, ctx: Context, version: str, key: str, wait_ms: int) -> tuple[str, dict[str, Any]] | None:
        """Poll for the selection with a growing interval (5 ms .. 50 ms) until ``wait_ms``.

        Each poll also reads the version pointer: the worker may publish a new version
        before storing the result (its files moved on), and the result then lives under the
        new version's key for the same context.
        """
        deadline = time.monotonic() + wait_ms / 1000
        delay = 0.005
        while True:
            current, raw = await self.redis.mget([keys.CURRENT_VERSION, keys.selection_key(version, key)])
            if raw is not None:
                return version, await self.store.fill_manifest(version, orjson.loads(raw))
            if current is not None and text(current) != version:
                version = text(current) or version
                key = resolve(ctx, await self.store.resolver(version)).key()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)

    async def definitions(self, version: str, agent_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Full agent definitions for ``agent_ids`` in one round trip (``reader.shared``)."""
        if not agent_ids:
            return {}
        raws = await read_shared(self.store.shared_script, version, [keys.agent_entry(a) for a in agent_ids])
        return {a: orjson.loads(r) for a, r in zip(agent_ids, raws, strict=True) if r is not None}


def selection_event(outcome: Outcome, *, source: str, latency_ms: float, project: str | None = None,
                    user: str | None = None) -> bytes:
    """One compact event for the batching task that fills ``agent_loading_metrics`` and
    ``token_optimization`` (field names follow those tables; ``user``/``project`` are
    external ids that the repository resolves)."""
    sel = outcome.selection or {}
    agents = [a["id"] for a in sel.get("agents", [])]
    return orjson.dumps({
        "recorded_at": datetime.now(UTC).isoformat(), "source": source, "version": outcome.version,
        "context_hash": sel.get("key") or outcome.resolved.key(), "strategy": outcome.strategy,
        "agents": agents, "agents_count": len(agents), "loaded_tokens": sel.get("loaded_tokens", 0),
        "manifest_tokens": sel.get("manifest_tokens", 0), "baseline_tokens": sel.get("baseline_tokens", 0),
        "optimized_tokens": sel.get("optimized_tokens", 0), "reduction": sel.get("reduction", 0.0),
        "context_tokens": sel.get("context_tokens", 0),
        "full_context_tokens": sel.get("full_context_tokens", 0),
        "cache_hit": outcome.status == "hit", "latency_ms": round(latency_ms, 3),
        "project": project, "user": user,
    })


def manifest_page(version: str, manifest: dict[str, Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of the manifest in agent-id order (the order is stable across pages)."""
    lines: dict[str, str] = manifest.get("lines", {})
    ids = sorted(lines)
    page = [{"id": a, "line": lines[a]} for a in ids[offset:offset + limit]]
    return {"version": version, "total": len(ids), "limit": limit, "offset": offset,
            "manifest_tokens": manifest.get("tokens"), "agents": page}


def search_page(version: str, query: str, total: int, hits: list[tuple[str, str]]) -> dict[str, Any]:
    """What a catalog search answers: the version, the query, how many lines were searched and
    the matching ones, best first (``id`` and its manifest ``line``)."""
    return {"version": version, "query": query, "searched": total,
            "results": [{"id": a, "line": line} for a, line in hits]}
