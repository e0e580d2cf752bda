"""Find the catalog's orchestrator: the agent whose menu lists the other agents' work.

Used as the fallback when nothing matches with confidence: it can route the user to the
right agent, which is better than loading nothing. Found from the menus, never by name.
"""

from __future__ import annotations

import re
from functools import lru_cache

from agentload.catalog import Catalog

_LISTS = re.compile(r"\b(list|manifest|all)\b", re.I)
ROUTER_SHARE = 0.5  # another router must score at least half the best one's routing evidence
_ORCH = re.compile(r"orchestrat|master|coordinat|facilitat", re.I)


@lru_cache(maxsize=65536)
def _item_score(kind: str, target: str, description: str, name: str) -> float:
    """Routing evidence of one menu entry (memoised: copies and reloads repeat entries)."""
    blob = f"{target} {description} {name}"
    if kind in {"action", "data"} and _LISTS.search(blob) and "workflow" in blob.lower():
        return 3.0
    if _LISTS.search(name or "") and "manifest" in blob.lower():
        return 2.0
    return 0.0


def find_orchestrator(catalog: Catalog, override: str | None = None, ranked: list[str] | None = None) -> str | None:
    """The configured agent if it exists, else the best-scoring router by its own files
    (``ranked``: ``orchestrators(catalog)`` when the caller has it already)."""
    if override and override in catalog.agents:
        return override
    ranked = ranked if ranked is not None else orchestrators(catalog)
    return ranked[0] if ranked else None


def orchestrators(catalog: Catalog) -> list[str]:
    """Every agent that routes (lists the catalog's work, or is titled so), best first; a
    catalog may have several (v4: a master executor and an orchestrator)."""
    scored: list[tuple[float, str]] = []
    for aid, agent in sorted(catalog.agents.items()):
        score = sum(_item_score(m.target_kind, m.target, m.description, m.name) for m in agent.menu)
        if _ORCH.search(f"{agent.title} {agent.persona.role}"):
            score += 2.0
        if score > 0:
            scored.append((-score, aid))
    best = -min(scored)[0] if scored else 0.0
    return [aid for neg, aid in sorted(scored) if -neg >= ROUTER_SHARE * best]
