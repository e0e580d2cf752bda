"""Periodic flushes of hot-path counters from Redis to SQL (queue ``metrics``, sent by beat)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from agentload import jobs
from workers.base import RETRY_POLICY
from workers.queues import Queue, TaskName


@shared_task(name=TaskName.FLUSH_CACHE_STATS.value, queue=Queue.METRICS.value, **RETRY_POLICY)
def flush_cache_stats() -> dict[str, Any]:
    """Move cache hit/miss counters to SQL."""
    return jobs.flush_cache_stats()


@shared_task(name=TaskName.FLUSH_SELECTION_EVENTS.value, queue=Queue.METRICS.value, **RETRY_POLICY)
def flush_selection_events() -> dict[str, Any]:
    """Drain the selection event list into SQL in one batch."""
    return jobs.flush_selection_events()
