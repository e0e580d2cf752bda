"""Find the catalog's orchestrator: the agent whose menu lists the other agents' work.

Used as the fallback when nothing matches with confidence: it can route the user to the
right agent, which is better than loading nothing. Found from the menus, never by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from agentload.catalog import Agent, Catalog

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
    return ranked_routers(router_scores(catalog))


def router_scores(catalog: Catalog, previous: tuple[Mapping[str, Agent], Mapping[str, float]] | None = None,
                  ) -> dict[str, float]:
    """Routing evidence per agent (0 for most); ``previous``: (agents, scores) of an earlier load
    of the catalog, whose scores the same agent objects keep (a refresh shares unchanged ones)."""
    agents, scores = previous if previous is not None else ({}, {})
    out: dict[str, float] = {}
    for aid, agent in catalog.agents.items():
        if agents.get(aid) is agent and aid in scores:
            out[aid] = scores[aid]
            continue
        score = sum(_item_score(m.target_kind, m.target, m.description, m.name) for m in agent.menu)
        out[aid] = score + (2.0 if _ORCH.search(f"{agent.title} {agent.persona.role}") else 0.0)
    return out


def ranked_routers(scores: Mapping[str, float]) -> list[str]:
    """The routers of ``router_scores``, best first (then by id): every agent with at least
    ``ROUTER_SHARE`` of the best one's evidence."""
    scored = sorted((-score, aid) for aid, score in scores.items() if score > 0)
    best = -scored[0][0] if scored else 0.0
    return [aid for neg, aid in scored if -neg >= ROUTER_SHARE * best]
