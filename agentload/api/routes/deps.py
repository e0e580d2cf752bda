"""Accessors for per-app objects, kept tiny so handlers stay declarative."""

from __future__ import annotations

from fastapi import Request

from agentload.api.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The ``Runtime`` created by the app's lifespan."""
    rt: Runtime = request.app.state.runtime
    return rt


def task_links(task_id: str) -> dict[str, str]:
    return {"task_id": task_id, "poll_url": f"/api/v1/tasks/{task_id}"}
