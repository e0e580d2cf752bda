"""Feeding the workflow-transition model from project state updates.

A project reports its finished workflows and the one it starts next; the sequence
``history + [next_workflow]`` is evidence for each consecutive transition, and the preload
uses the counts to warm likely next selections. The model belongs to the cache package
(``agentload.cache.predict.observe_project``: counts each step of a project's sequence
once, however often the state is re-sent). It is synchronous, so it runs in a worker thread
on a small sync client; this endpoint is not the hot path. Without that module the API
counts the last transition itself in ``keys.TRANSITIONS`` (``"from|to" -> n``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import anyio.to_thread
import redis
from redis.asyncio import Redis

from agentload import keys
from agentload.context import norm_id


def sequence(state: Mapping[str, Any]) -> list[str]:
    """Finished workflows followed by the next one, normalised."""
    items = [norm_id(str(h)) for h in state.get("workflow_history") or [] if str(h).strip()]
    nxt = state.get("next_workflow")
    if nxt:
        items.append(norm_id(str(nxt)))
    return items


def _model() -> Callable[..., int] | None:
    try:
        module = importlib.import_module("agentload.cache.predict")
    except ImportError:
        return None
    fn = getattr(module, "observe_project", None)
    return fn if callable(fn) else None


async def observe(
    redis_async: Redis, sync_client: redis.Redis, project_id: str, state: Mapping[str, Any],
    previous: Mapping[str, Any] | None, aliases: Mapping[str, str] | None,
) -> int:
    """Count the new transitions of ``state``; returns how many were counted."""
    items = sequence(state)
    if len(items) < 2:
        return 0
    model = _model()
    if model is not None:
        counted: int = await anyio.to_thread.run_sync(
            partial(model, sync_client, project_id, items, aliases=aliases))
        return counted
    if previous is not None and sequence(previous)[-2:] == items[-2:]:
        return 0  # the same state re-sent is not new evidence
    await redis_async.hincrby(keys.TRANSITIONS, f"{items[-2]}|{items[-1]}", 1)
    return 1
