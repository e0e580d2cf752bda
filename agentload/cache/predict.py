"""Predictive preload: learn which workflow follows which, warm the likely next contexts.

The model is a first-order transition count (``from|to`` -> n in ``keys.TRANSITIONS``)
learned from the workflow histories projects actually report. For a project's context the
likely next workflows are the observed successors of its current workflow (most frequent
first) plus the path file's own next step as a prior when little is observed; their
contexts are resolved, and any selection not yet in the current version is computed and
stored, so the project's next request is a hit even for contexts the preload did not
enumerate (or when the preload was partial).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import redis

from agentload import keys
from agentload.cache.codec import dumps, loads, text
from agentload.cache.publish import store_selection
from agentload.context import Context, Resolved, ResolverData, norm_id
from agentload.selection.engine import Selector

SEEN_TTL_S = 90 * 24 * 3600  # how long a project's observed-history marker is kept
_GLOB = re.compile(r"([*?\[\]\\])")


def canonical(workflow: str, aliases: Mapping[str, str] | None = None) -> str:
    wid = norm_id(workflow)
    return aliases.get(wid, wid) if aliases else wid


def _pairs(history: list[str], start: int) -> list[str]:
    return [f"{history[i - 1]}|{history[i]}" for i in range(max(start, 1), len(history))
            if history[i - 1] != history[i]]


def observe(r: redis.Redis, history: list[str], *, aliases: Mapping[str, str] | None = None) -> int:
    """Count every consecutive transition of ``history`` once (one observation per call)."""
    pairs = _pairs([canonical(h, aliases) for h in history], 1)
    if pairs:
        pipe = r.pipeline(transaction=False)
        for pair in pairs:
            pipe.hincrby(keys.TRANSITIONS, pair, 1)
        pipe.execute()
    return len(pairs)


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def observe_project(r: redis.Redis, project_id: str, history: list[str], *,
                    aliases: Mapping[str, str] | None = None) -> int:
    """Count only the transitions of a project's history not counted before (idempotent).

    Projects resend their whole history with every request, and several callers report the
    same project (the API with the next workflow appended, the worker without). The marker
    keeps the sequence already counted: a repeat or a prefix of it counts nothing, an
    extension counts only its new steps, and a history that diverges (a reset, or a step
    other than the announced one) counts from the point where it differs.
    """
    items = [canonical(h, aliases) for h in history]
    marker = keys.history_seen_key(project_id)
    counted: list[int] = [0]

    def step(pipe: redis.client.Pipeline) -> None:
        seen = loads(pipe.get(marker)) or []
        common = _common_prefix(seen, items)
        pairs = _pairs(items, common)
        pipe.multi()
        for pair in pairs:
            pipe.hincrby(keys.TRANSITIONS, pair, 1)
        if common < len(items):  # not a prefix of what was counted: it is the new sequence
            pipe.set(marker, dumps(items), ex=SEEN_TTL_S)
        counted[0] = len(pairs)

    r.transaction(step, marker)
    return counted[0]


def likely_next(r: redis.Redis, workflow: str, k: int = 3, *,
                aliases: Mapping[str, str] | None = None) -> list[tuple[str, float]]:
    """Up to ``k`` observed successors of ``workflow`` with their probabilities."""
    wid = canonical(workflow, aliases)
    counts: dict[str, int] = {}
    pattern = _GLOB.sub(r"\\\1", wid) + "|*"
    for field, value in r.hscan_iter(keys.TRANSITIONS, match=pattern, count=1000):
        _, _, to = (text(field) or "").partition("|")
        counts[to] = int(value)
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(to, n / total) for to, n in ranked]


def path_next(data: ResolverData, files: list[str], workflow: str) -> list[str]:
    """The step after ``workflow`` in each candidate path file (the prior)."""
    out: list[str] = []
    for t in data.tracks:
        if files and t.file not in files:
            continue
        order = [w for p in t.phases for w in p.all]
        if workflow in order:
            i = order.index(workflow)
            if i + 1 < len(order) and order[i + 1] not in out:
                out.append(order[i + 1])
    return out


def current_workflow(ctx: Context, resolved: Resolved, aliases: Mapping[str, str]) -> str | None:
    if resolved.next_workflow:
        return resolved.next_workflow
    return canonical(ctx.workflow_history[-1], aliases) if ctx.workflow_history else None


def predicted_contexts(r: redis.Redis, selector: Selector, ctx: Context, k: int = 3) -> list[Context]:
    """Contexts of the likely next steps after ``ctx`` (no free text: that is not predictable)."""
    data = selector.resolver
    resolved = selector.resolve(ctx)
    now = current_workflow(ctx, resolved, data.aliases)
    if now is None:
        return []
    nexts = [w for w, _ in likely_next(r, now, k, aliases=data.aliases)]
    nexts += [w for w in path_next(data, resolved.files, now) if w not in nexts]
    history = list(ctx.workflow_history)
    if not history or canonical(history[-1], data.aliases) != now:
        history.append(now)
    return [ctx.model_copy(update={"next_workflow": w, "phase": None, "request": None,
                                   "workflow_history": history}) for w in nexts[: k + 1]]


def warm_for_project(r: redis.Redis, selector: Selector, version: str, ctx: Context, *,
                     ttl_s: int, k: int = 3) -> dict[str, Any]:
    """Compute and store the selections of ``ctx``'s likely next contexts that are missing."""
    contexts = predicted_contexts(r, selector, ctx, k)
    resolved: dict[str, Resolved] = {}
    for c in contexts:
        res = selector.resolve(c)
        resolved.setdefault(res.key(), res)
    pipe = r.pipeline(transaction=False)
    for key in resolved:
        pipe.exists(keys.selection_key(version, key))
    present = dict(zip(resolved, pipe.execute(), strict=True))
    warmed = 0
    for key, res in resolved.items():
        if not present[key]:
            warmed += int(store_selection(r, version, selector.select_resolved(res), ttl_s))
    return {"candidates": [c.next_workflow for c in contexts], "contexts": len(resolved),
            "present": sum(1 for v in present.values() if v), "warmed": warmed}
