"""Periodic flushes of hot-path counters from Redis to SQL (queue ``metrics``, sent by beat)."""

from __future__ import annotations

from typing import Any

from agentload import jobs
from agentload.tasknames import TaskName
from workers.base import agentload_task


@agentload_task(TaskName.FLUSH_CACHE_STATS)
def flush_cache_stats() -> dict[str, Any]:
    """Move cache hit/miss counters to SQL."""
    return jobs.flush_cache_stats()


@agentload_task(TaskName.FLUSH_SELECTION_EVENTS)
def flush_selection_events() -> dict[str, Any]:
    """Drain the selection event list into SQL in one batch."""
    return jobs.flush_selection_events()
