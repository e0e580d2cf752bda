"""Short selection tasks (queue ``default``): warm the cache for a context or a text."""

from __future__ import annotations

from typing import Any

from agentload import jobs
from agentload.tasknames import TaskName
from workers.base import agentload_task


@agentload_task(TaskName.PRELOAD_CONTEXT)
def preload_context(
    context: dict[str, Any], project_id: str | None = None, user_id: str | None = None,
    request_key: str | None = None,
) -> dict[str, Any]:
    """Select and cache the agents for one context (plus predicted next steps); ``request_key``
    names the request text in Redis when it was kept out of this message."""
    return jobs.preload_context(context, project_id, user_id, request_key)


@agentload_task(TaskName.SELECT_TEXT)
def select_text(context: dict[str, Any], request_key: str | None = None) -> dict[str, Any]:
    """Select for a free-text request and cache the result; ``request_key`` names the text in
    Redis when it was kept out of this message."""
    return jobs.select_and_cache(context, request_key)
