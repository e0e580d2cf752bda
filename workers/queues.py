"""Queue and task names: the only strings shared by the API, beat and the workers.

Callers enqueue by *name* (``send_task``) so the API never imports task code; the
routing table below is what makes a bare name land on the right queue.
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    """Queues are split by latency class so a long job can never delay a user request."""

    DEFAULT = "default"  # short: text selection, preload of one context, ping
    CATALOG = "catalog"  # preload / refresh of the whole catalog
    METRICS = "metrics"  # periodic flushes of Redis counters to SQL
    LONG = "long"  # benchmark, load test, optimize (minutes, long time limits)


class TaskName(StrEnum):
    """Registered task names; changing one is a wire-protocol change."""

    PING = "agentload.ping"
    PRELOAD = "agentload.preload"
    REFRESH = "agentload.refresh"
    PRELOAD_CONTEXT = "agentload.preload_context"
    SELECT_TEXT = "agentload.select_text"
    FLUSH_CACHE_STATS = "agentload.flush_cache_stats"
    FLUSH_SELECTION_EVENTS = "agentload.flush_selection_events"
    BENCHMARK = "agentload.benchmark"
    LOAD_TEST = "agentload.load_test"
    OPTIMIZE = "agentload.optimize"


TASK_QUEUES: dict[TaskName, Queue] = {
    TaskName.PING: Queue.DEFAULT,
    TaskName.PRELOAD: Queue.CATALOG,
    TaskName.REFRESH: Queue.CATALOG,
    TaskName.PRELOAD_CONTEXT: Queue.DEFAULT,
    TaskName.SELECT_TEXT: Queue.DEFAULT,
    TaskName.FLUSH_CACHE_STATS: Queue.METRICS,
    TaskName.FLUSH_SELECTION_EVENTS: Queue.METRICS,
    TaskName.BENCHMARK: Queue.LONG,
    TaskName.LOAD_TEST: Queue.LONG,
    TaskName.OPTIMIZE: Queue.LONG,
}

#: queues whose tasks get the ``long_task_*`` time limits
LONG_QUEUES: frozenset[Queue] = frozenset({Queue.LONG})


def task_routes() -> dict[str, dict[str, str]]:
    """Celery ``task_routes``: name -> queue, usable by a client that never imports tasks."""
    return {name.value: {"queue": queue.value} for name, queue in TASK_QUEUES.items()}


def long_task_names() -> list[str]:
    """Names of the tasks that run on a long-job queue."""
    return [name.value for name, queue in TASK_QUEUES.items() if queue in LONG_QUEUES]


def metrics_task_names() -> list[str]:
    """Names of the tasks that run on the metrics queue (database writes)."""
    return [name.value for name, queue in TASK_QUEUES.items() if queue is Queue.METRICS]
