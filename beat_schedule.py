"""Periodic tasks for ``celery beat``, built from settings (intervals are env-tunable).

Each entry names a task and its interval only: the queue is the task's own
(``agentload.tasknames.ROUTES``), sent explicitly so a beat never depends on routing config.
Every entry carries ``expires`` = its interval: if workers are down or behind, stale
periodic messages are dropped instead of piling up and running in a burst later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agentload.settings import Settings
from agentload.tasknames import TaskName, queue_of


def _every(task: TaskName, interval_s: float) -> dict[str, Any]:
    return {
        "task": task.value,
        "schedule": timedelta(seconds=interval_s),
        "options": {"queue": queue_of(task).value, "expires": interval_s},
    }


def build_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """``beat_schedule`` mapping: entry name -> task, interval (``timedelta``) and send options
    (``queue``, ``expires`` in seconds)."""
    return {
        "refresh-catalog": _every(TaskName.REFRESH, settings.refresh_interval_s),
        "flush-cache-stats": _every(TaskName.FLUSH_CACHE_STATS, settings.stats_flush_interval_s),
        "flush-selection-events": _every(TaskName.FLUSH_SELECTION_EVENTS, settings.metrics_flush_interval_s),
    }
