"""The context a selection call asks for, completed from the project: shared by the API and MCP.

Two sources complete what the client leaves out, and the client always wins:

* ``project_id``: the workflow state a client stored (``PUT /api/v1/projects/{id}/workflow-state``),
  read from Redis;
* ``project_path``: the project's own BMad files (``agentload.project``), read from disk in a
  thread and kept while they do not change. Only folders under ``AGENTLOAD_PROJECT_ROOTS`` (or
  the default project) may be read; anything else is refused before the disk is touched.
  ``AGENTLOAD_DEFAULT_PROJECT`` (``agentload serve --project`` sets it) is read for calls that
  name no ``project_path``.

Precedence: the client's fields, then the stored state, then the files. The answer carries a
compact ``project`` report (which file gave which field, what was not used and why).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentload.api.problems import NotReady, shown
from agentload.context import Context
from agentload.project import merge
from agentload.settings import Settings

if TYPE_CHECKING:
    from agentload.api.runtime import Runtime

ROOTS_SETTING = "AGENTLOAD_PROJECT_ROOTS"


class ProjectRefused(Exception):
    """The project cannot be used: ``status`` is the HTTP status an API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def allowed_roots(settings: Settings) -> list[Path]:
    roots = [*settings.project_roots, *([settings.default_project] if settings.default_project else [])]
    return list(dict.fromkeys(r.expanduser().resolve() for r in roots))


def allowed_project(settings: Settings, raw: str) -> Path:
    """The folder ``raw`` names, if this server may read it; raises ``ProjectRefused``
    (422 not absolute, 403 outside the allowed roots or reading is off, 404 no such folder)."""
    path = Path(raw)
    if not path.is_absolute():
        raise ProjectRefused(422, f"project_path {shown(raw)} must be an absolute path")
    roots = allowed_roots(settings)
    if not roots:
        raise ProjectRefused(403, f"this server reads no project files: set {ROOTS_SETTING} (agentload serve "
                             "--project sets it)")
    try:
        real = path.resolve()
    except (OSError, ValueError) as exc:  # a NUL byte, a symlink loop
        raise ProjectRefused(422, f"project_path {shown(raw)} is not a usable path") from exc
    if not any(real.is_relative_to(root) for root in roots):
        raise ProjectRefused(403, f"project_path {shown(raw)} is outside the folders this server may read "
                             f"({ROOTS_SETTING})")
    if not real.is_dir():
        raise ProjectRefused(404, f"project_path {shown(raw)}: no such folder")
    return real


async def complete_context(rt: Runtime, given: dict[str, Any], *, project_id: str | None = None,
                           project_path: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(context fields, project report or None). Raises ``ProjectRefused`` (unknown
    ``project_id``: 404; a refused ``project_path``) and ``NotReady`` (no catalog yet)."""
    fields = dict(given)
    if project_id is not None:
        stored_state = await rt.store.get_workflow_state(project_id)
        if stored_state is None:
            raise ProjectRefused(404, f"unknown project {shown(project_id)}: store its workflow state first")
        stored = {k: v for k, v in stored_state.items() if k in Context.model_fields and v not in (None, [])}
        fields = {**stored, **fields}
    settings = rt.settings
    folder = allowed_project(settings, project_path) if project_path else settings.default_project
    if folder is None:
        return fields, None
    version = await rt.store.current_version()
    if version is None:
        raise NotReady("no catalog version is published yet; retry shortly")
    data = await rt.store.resolver(version)
    try:
        state = await asyncio.to_thread(rt.projects.get, folder, version, data)
    except NotADirectoryError as exc:
        raise ProjectRefused(404, "the project folder is gone") from exc
    merged, report = merge(fields, state)
    return merged, report or None
