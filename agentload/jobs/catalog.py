"""Catalog jobs (queue ``catalog``/``metrics``): preload, refresh, stats flush.

Plain functions with JSON-safe results; each builds its Redis client from settings so a
Celery task, the CLI and a test call them the same way. Selectors are built with the tuned
knobs applied (``agentload.jobs.tuning.tuned_settings``) so every process agrees on the
configuration that the published version's digest includes.
"""

from __future__ import annotations

from typing import Any

from agentload.jobs.runtime import STATE, redis_client
from agentload.jobs.tuning import tuned_settings
from agentload.publish import refresh as cache_refresh
from agentload.publish import stats as cache_stats
from agentload.settings import get_settings


def preload_catalog(full: bool = True, owner: str | None = None) -> dict[str, Any]:
    """Publish the catalog from disk into Redis.

    ``full=True`` rebuilds and publishes every key even if Redis already holds this content
    (every file re-hashed, every selection recomputed; only the parses of byte-identical files
    are reused, see ``agentload.publish.refresh``); ``full=False`` publishes only when Redis has
    no version or the files changed, so every worker can call it at start-up without piling
    versions.
    Returns ``{"skipped": "locked"}`` when another preload/refresh is running; ``owner`` (the
    task id) lets a redelivered task take over its own dead run's lock.
    """
    r = redis_client(get_settings())
    return cache_refresh.refresh_catalog(r, tuned_settings(r, get_settings()), STATE, force=full, owner=owner)


def refresh_catalog(force: bool = False, owner: str | None = None) -> dict[str, Any]:
    """Publish a new version if the catalog files changed (beat runs it periodically)."""
    r = redis_client(get_settings())
    return cache_refresh.refresh_catalog(r, tuned_settings(r, get_settings()), STATE, force=force, owner=owner)


def flush_cache_stats() -> dict[str, Any]:
    """Move the hot path's cache counters to ``cache_performance`` (exactly once)."""
    settings = get_settings()
    return cache_stats.flush_cache_stats(redis_client(settings), settings.database_url)
