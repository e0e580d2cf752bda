"""Plain functions the Celery tasks call: JSON-safe dicts in and out.

Catalog and cache jobs live in ``agentload.jobs.catalog`` and ``agentload.jobs.selection``;
each builds its own Redis client from settings; ``events`` (SQL) is imported on first call.
The long measurement jobs (load test, benchmark, optimize) live in ``agentload.measure.jobs``.
"""

from __future__ import annotations

from typing import Any

from agentload.jobs.catalog import flush_cache_stats, preload_catalog, refresh_catalog
from agentload.jobs.selection import preload_context, select_and_cache

__all__ = [
    "flush_cache_stats",
    "flush_selection_events",
    "preload_catalog",
    "preload_context",
    "refresh_catalog",
    "select_and_cache",
]


def flush_selection_events() -> dict[str, Any]:
    """Drain the served-selection events into SQL (``agentload.jobs.events``)."""
    from agentload.jobs.events import flush_selection_events as flush

    return flush()

