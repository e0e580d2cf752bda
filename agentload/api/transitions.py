"""Feeding the workflow-transition model from project state updates.

A project reports its finished workflows and the one it starts next; the sequence
``history + [next_workflow]`` is evidence for each consecutive transition, and the preload
uses the counts to warm likely next selections. The counting is the read side's
(``agentload.reader.transitions.observe_project``: each step of a project's sequence is
counted once, however often the state is re-sent). It is synchronous, so it runs in a
worker thread on a small sync client; this endpoint is not the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio.to_thread
import redis

from agentload.context import norm_id
from agentload.reader.transitions import observe_project


def sequence(state: Mapping[str, Any]) -> list[str]:
    """Finished workflows followed by the next one, normalised."""
    items = [norm_id(str(h)) for h in state.get("workflow_history") or [] if str(h).strip()]
    nxt = state.get("next_workflow")
    if nxt:
        items.append(norm_id(str(nxt)))
    return items


async def observe(sync_client: redis.Redis, project_id: str, state: Mapping[str, Any],
                  aliases: Mapping[str, str] | None) -> int:
    """Count the new transitions of ``state``; returns how many were counted."""
    items = sequence(state)
    if len(items) < 2:
        return 0
    counted: int = await anyio.to_thread.run_sync(partial(observe_project, sync_client, project_id, items,
                                                          aliases=aliases))
    return counted
