"""One selection step for every caller: the HTTP route and the MCP ``select_agents`` tool.

Both do the same around a lookup: fill the fields the caller left out (the project's stored
state, then its BMad files; ``project_context``), build the ``Context``, ask the service
(hit, computed within the wait, or pending), add the project report and, when asked, each
agent's definition, and queue the selection event. Written once here, each caller only
translates the outcome into its protocol (HTTP status codes; MCP tool results and errors).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from agentload.api.project_context import complete_context
from agentload.api.runtime import Runtime
from agentload.api.service import Outcome, selection_event
from agentload.context import Context


@dataclass(frozen=True, slots=True)
class Looked:
    """What a lookup found: the service's outcome and what the project's files contributed."""

    outcome: Outcome
    report: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.outcome.status == "pending"

    def body(self) -> dict[str, Any]:
        """The served selection (``Outcome.body``) with the project report when there is one."""
        body = self.outcome.body()
        if self.report:
            body["project"] = self.report
        return body


async def look_up(rt: Runtime, given: dict[str, Any], *, project_id: str | None = None,
                  project_path: str | None = None, wait_ms: int = 0, client: str | None = None) -> Looked:
    """The selection for the caller's ``given`` context fields (only those it set).

    Raises pydantic's ``ValidationError`` (the completed fields make no valid context),
    ``ProjectRefused``, and what ``SelectionService.select`` raises (``UnknownContext``,
    ``NotPrecomputed``, ``NotReady``, ``TooManyMisses``, Redis errors). ``client`` is the
    anonymous caller whose misses are budgeted (None: trusted).
    """
    fields, report = await complete_context(rt, given, project_id=project_id, project_path=project_path)
    outcome = await rt.service.select(Context(**fields), wait_ms, client=client)
    return Looked(outcome, report)


async def definitions(rt: Runtime, looked: Looked) -> dict[str, str | None]:
    """Each selected agent's definition text by id, in selection order (None: gone from the
    version); for ``include=full`` and ``include_definitions``."""
    ids = [a["id"] for a in (looked.outcome.selection or {}).get("agents", [])]
    found = await rt.service.definitions(looked.outcome.version, ids)
    return {agent_id: found.get(agent_id, {}).get("text") for agent_id in ids}


def record(rt: Runtime, looked: Looked, *, source: str, started: float, project: str | None = None,
           user: str | None = None) -> None:
    """Queue the selection event (in memory; the telemetry flush writes it). ``started`` is a
    ``time.perf_counter()`` reading."""
    rt.telemetry.add_event(selection_event(looked.outcome, source=source, project=project, user=user,
                                           latency_ms=(time.perf_counter() - started) * 1000))
