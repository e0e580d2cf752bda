"""Periodic tasks for ``celery beat``, built from settings (intervals are env-tunable).

Every entry carries ``expires`` = its interval: if workers are down or behind, stale
periodic messages are dropped instead of piling up and running in a burst later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agentload.settings import Settings
from workers.queues import Queue, TaskName


def _every(task: TaskName, interval_s: float, queue: Queue) -> dict[str, Any]:
    return {
        "task": task.value,
        "schedule": timedelta(seconds=interval_s),
        "options": {"queue": queue.value, "expires": interval_s},
    }


def build_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """``beat_schedule`` mapping: entry name -> task, interval and send options."""
    return {
        "refresh-catalog": _every(TaskName.REFRESH, settings.refresh_interval_s, Queue.CATALOG),
        "flush-cache-stats": _every(TaskName.FLUSH_CACHE_STATS, settings.stats_flush_interval_s, Queue.METRICS),
        "flush-selection-events": _every(
            TaskName.FLUSH_SELECTION_EVENTS, settings.metrics_flush_interval_s, Queue.METRICS
        ),
    }
