"""Celery task and queue names, and which queue each task runs on: the one place they are written.

Why a module of its own, outside ``workers/`` and ``api/``: the names are a wire protocol shared
by three processes. The API and MCP server send tasks *by name* (``send_task``) and must not
import worker or task code; the workers register the tasks under these names; beat sends the
periodic ones. This module imports nothing but the standard library, so every side can use it
without loading Celery, Redis or SQL.

Adding a queued task: a member of ``TaskName``, its queue in ``ROUTES``, the task function in
``tasks/`` (decorated ``@agentload_task(TaskName.X)``) and the caller; see
``docs/adding-a-task.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Queue(StrEnum):
    """Queues are split by latency class so a long job can never delay a user request.

    The value is the Redis list Celery uses for the queue (``LLEN`` of it is the queue depth).
    """

    DEFAULT = "default"  # short: text selection, preload of one context, ping
    CATALOG = "catalog"  # preload / refresh of the whole catalog
    METRICS = "metrics"  # periodic flushes of Redis counters to SQL (short time limits)
    LONG = "long"  # benchmark, load test, optimize (minutes, long time limits)


class TaskName(StrEnum):
    """Registered task names; changing a value is a wire-protocol change (queued messages
    carrying the old name would find no task)."""

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


#: the queue every task runs on; the task decorator, the API's client and beat all read it here
ROUTES: Final[Mapping[TaskName, Queue]] = MappingProxyType({
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
})

#: queues whose tasks get the ``long_task_*`` time limits (``Settings``)
LONG_QUEUES: Final = frozenset({Queue.LONG})
#: queues whose tasks get the short ``metrics_task_*`` time limits: a hung database must not hold
#: their worker for the default limit
METRICS_QUEUES: Final = frozenset({Queue.METRICS})


def queue_of(name: TaskName) -> Queue:
    """The queue ``name`` is routed to; ``KeyError`` for a member missing from ``ROUTES`` (a unit
    test keeps that from shipping)."""
    return ROUTES[name]


def task_routes() -> dict[str, dict[str, str]]:
    """Celery ``task_routes`` (``{"agentload.ping": {"queue": "default"}, ...}``): lets a client
    that never imports task code route a bare name to its queue."""
    return {name.value: {"queue": queue.value} for name, queue in ROUTES.items()}


def names_on(queues: frozenset[Queue]) -> list[str]:
    """Names of the tasks routed to any of ``queues``, in ``TaskName`` order."""
    return [name.value for name in TaskName if ROUTES[name] in queues]
