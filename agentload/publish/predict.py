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

from collections.abc import Mapping
from typing import Any

import redis

from agentload import keys
from agentload.context import Context, Resolved, ResolverData
from agentload.publish.publish import store_selection
from agentload.reader.transitions import canonical, likely_next
from agentload.selection.engine import Selector


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
