"""Catalog preload and refresh (queue ``catalog``; refresh is also sent by beat)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from agentload import jobs
from workers.base import RETRY_POLICY
from workers.queues import Queue, TaskName


@shared_task(name=TaskName.PRELOAD.value, queue=Queue.CATALOG.value, **RETRY_POLICY)
def preload(full: bool = True) -> dict[str, Any]:
    """Load the catalog from disk into Redis (at startup or on demand)."""
    return jobs.preload_catalog(full=full)


@shared_task(name=TaskName.REFRESH.value, queue=Queue.CATALOG.value, **RETRY_POLICY)
def refresh(force: bool = False) -> dict[str, Any]:
    """Publish a new catalog version if files changed; the job holds the refresh lock."""
    return jobs.refresh_catalog(force=force)
