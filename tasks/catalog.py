"""Catalog preload and refresh (queue ``catalog``; refresh is also sent by beat)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from agentload import jobs
from workers.base import RETRY_POLICY
from workers.queues import Queue, TaskName


@shared_task(bind=True, name=TaskName.PRELOAD.value, queue=Queue.CATALOG.value, **RETRY_POLICY)
def preload(self: Task, full: bool = True) -> dict[str, Any]:
    """Load the catalog from disk into Redis (at startup or on demand)."""
    return jobs.preload_catalog(full=full, owner=self.request.id)


@shared_task(bind=True, name=TaskName.REFRESH.value, queue=Queue.CATALOG.value, **RETRY_POLICY)
def refresh(self: Task, force: bool = False) -> dict[str, Any]:
    """Publish a new catalog version if files changed; the job holds the refresh lock
    (keyed by this task's id, so a redelivery after a worker died can take it over)."""
    return jobs.refresh_catalog(force=force, owner=self.request.id)
