"""Searching the catalog: how a client reaches agents and skills a bounded manifest does not list.

A selection's manifest lists the most relevant agents and sums up the rest by module
(``selection.manifest``); this endpoint finds any agent or skill of the live version by words
of its manifest line (id, title, capabilities; a skill's description), like ``search_catalog``
over MCP. It reads the version's lines, cached in-process, and never a worker.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from agentload.api.answers import SearchResults
from agentload.api.errors import validation_response
from agentload.api.failures import REDIS_DOWN, VALIDATION
from agentload.api.problems import NotReady
from agentload.api.responses import DeliveredResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime
from agentload.api.service import NO_CATALOG, search_page
from agentload.reader.store import CatalogNotPublished

router = APIRouter(tags=["agents"])
MAX_RESULTS = 100
SEARCH_EXAMPLE = {"version": "20250101T000000-ab12cd", "query": "test architecture", "searched": 10000,
                  "results": [{"id": "tea-0007", "line": "- tea-0007: Master Test Architect 0007 | atdd-0007"}]}


@router.get("/api/v1/catalog/search", summary="Find agents and skills by words of their manifest lines",
            response_model=SearchResults,
            responses={200: {"content": {"application/json": {"example": SEARCH_EXAMPLE}}},
                       422: VALIDATION, 503: REDIS_DOWN})
async def search_catalog(
    q: str = Query(min_length=1, max_length=4000, description="Words to find (an id, a title, a capability)"),
    limit: int = Query(10, ge=1, le=MAX_RESULTS, description=f"Most results (1..{MAX_RESULTS})"),
    rt: Runtime = Depends(runtime),
) -> Any:
    if len(q) > rt.settings.max_request_chars:
        return validation_response([{"loc": ("query", "q"), "type": "string_too_long",
                                     "msg": f"at most {rt.settings.max_request_chars} characters"}])
    try:
        version, total, hits = await rt.store.search(q, limit)
    except CatalogNotPublished as exc:
        raise NotReady(f"{NO_CATALOG} ({exc})") from exc
    return DeliveredResponse(search_page(version, q, total, hits))
