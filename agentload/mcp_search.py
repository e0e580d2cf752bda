"""The MCP tool that reaches what a bounded manifest does not list: ``search_catalog``.

A selection's manifest lists the agents most relevant to the context and sums up the rest of
a large catalog by module (``selection.manifest``), pointing at this tool, as tool-search
systems do for large tool sets: any agent or skill of the live version is found by words of
its manifest line (id, title, capabilities; a skill's description), then loaded with
``load_agent`` or ``load_work_item``. The answer is a small JSON header and the matching
lines as text, counted as delivered like every other result. Registered from
``mcp_server`` (kept apart so that module stays small).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from agentload.api.service import NO_CATALOG
from agentload.reader.store import CatalogNotPublished

if TYPE_CHECKING:
    from agentload.mcp_server import AgentloadMCP, Result

MAX_RESULTS = 100
DESCRIPTION = ("Find agents and skills of the catalog by words (an id, a title, what they do): the "
               "manifest of select_agents lists only the closest ones in a large catalog. Answers their "
               "manifest lines, best first; load one with load_agent or load_work_item.")


def register(mcp: AgentloadMCP, annotations: ToolAnnotations) -> None:
    """Add ``search_catalog`` to ``mcp``'s server (``annotations``: the read-only hints its
    other tools carry)."""

    async def search_catalog(
        query: Annotated[str, Field(description="Words to find: an id, a title, a capability", min_length=1,
                                    max_length=4000)],
        limit: Annotated[int, Field(description=f"Most results (1..{MAX_RESULTS})")] = 10,
    ) -> CallToolResult:
        return await mcp.measured("search_catalog", lambda: _search(mcp, query, limit))

    mcp.server.add_tool(search_catalog, name="search_catalog", annotations=annotations,
                        structured_output=False, description=DESCRIPTION)


async def _search(mcp: AgentloadMCP, query: str, limit: int) -> Result:
    if not 1 <= limit <= MAX_RESULTS:
        raise ToolError(f"limit must be 1..{MAX_RESULTS}")
    if len(query) > mcp.settings.max_request_chars:
        raise ToolError(f"query must be at most {mcp.settings.max_request_chars} characters")
    try:
        version, total, hits = await mcp.runtime.store.search(query, limit)
    except CatalogNotPublished as exc:
        raise ToolError(NO_CATALOG) from exc
    meta = {"version": version, "searched": total, "found": len(hits)}
    return meta, ["\n".join(line for _, line in hits)] if hits else [], None
