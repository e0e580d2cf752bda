"""Plain functions the Celery tasks call: JSON-safe dicts in and out.

Catalog and cache jobs live in ``agentload.jobs.catalog`` and ``agentload.jobs.selection``;
each builds its own Redis client from settings. The long jobs receive a ``progress``
callback (the task turns it into Celery ``PROGRESS`` state). Their modules (``perf``,
``benchmark``, ``optimize``, ``events``) are imported on first call: the API imports
``agentload.jobs.params`` for request validation and must not pull in SQL or psutil with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentload.jobs.catalog import flush_cache_stats, preload_catalog, refresh_catalog
from agentload.jobs.selection import preload_context, select_and_cache

Progress = Callable[[dict[str, Any]], None]

__all__ = [
    "Progress",
    "flush_cache_stats",
    "flush_selection_events",
    "preload_catalog",
    "preload_context",
    "refresh_catalog",
    "run_benchmark",
    "run_load_test",
    "run_optimize",
    "select_and_cache",
]


def flush_selection_events() -> dict[str, Any]:
    """Drain the served-selection events into SQL (``agentload.jobs.events``)."""
    from agentload.jobs.events import flush_selection_events as flush

    return flush()


def run_benchmark(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Before/after benchmark of the strategies (``agentload.jobs.benchmark``)."""
    from agentload.jobs.benchmark import run_benchmark as run

    return run(params, progress)


def run_load_test(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Load test, step test or stress ramp against the API (``agentload.jobs.perf``)."""
    from agentload.jobs.perf import run_load_test as run

    return run(params, progress)


def run_optimize(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Warm what is in use and tune the free-text rule (``agentload.jobs.optimize``)."""
    from agentload.jobs.optimize import run_optimize as run

    return run(params, progress)
