"""Catalog preload and refresh (queue ``catalog``; refresh is also sent by beat)."""

from __future__ import annotations

from typing import Any

from agentload import jobs
from agentload.tasknames import TaskName
from workers.base import AgentloadTask, agentload_task


@agentload_task(TaskName.PRELOAD, bind=True)
def preload(self: AgentloadTask, full: bool = True) -> dict[str, Any]:
    """Load the catalog from disk into Redis (at startup or on demand)."""
    return jobs.preload_catalog(full=full, owner=self.request.id)


@agentload_task(TaskName.REFRESH, bind=True)
def refresh(self: AgentloadTask, force: bool = False) -> dict[str, Any]:
    """Publish a new catalog version if files changed; the job holds the refresh lock
    (keyed by this task's id, so a redelivery after a worker died can take it over)."""
    return jobs.refresh_catalog(force=force, owner=self.request.id)
