"""Structured rules: owners of the next workflow, or of the phase's required workflows.

Every fact comes from the catalog's path files (or, for workflows no path names, from the
agents' menus): nothing here knows an agent or workflow by name.
"""

from __future__ import annotations

from agentload.context import Resolved, ResolverData
from agentload.selection.models import Reason

Picks = dict[str, list[Reason]]


def _add(picks: Picks, agent: str, reason: Reason) -> None:
    reasons = picks.setdefault(agent, [])
    if reason not in reasons:
        reasons.append(reason)


def structured_picks(resolved: Resolved, data: ResolverData) -> Picks:
    """Agents the path files (or menus) assign to the resolved context, with reasons."""
    picks: Picks = {}
    files = set(resolved.files)
    tracks = [t for t in data.tracks if t.file in files]
    wid = resolved.next_workflow
    if wid is not None:
        for t in tracks:
            for agent in t.owners.get(wid, []):
                _add(picks, agent, Reason(rule="path:next-workflow", workflow=wid, detail=t.file))
        owners = data.menu_owners.get(wid, [])
        everyone = {a for names in data.menu_owners.values() for a in names}
        if len(everyone) > 2 and 2 * len(owners) > len(everyone):
            return picks  # help, exit, yolo...: on most menus, it says nothing about whom to load
        if not picks:
            for agent in owners:
                _add(picks, agent, Reason(rule="menu:next-workflow", workflow=wid,
                                          detail="workflow is on this agent's menu"))
        return picks
    if resolved.phase is None:
        return picks
    for t in tracks:
        phase = next((p for p in t.phases if p.phase == resolved.phase), None)
        if phase is None:
            continue
        wanted = list(phase.required)
        rule = "path:phase-required"
        if resolved.has_ui:
            wanted += phase.ui
        if not wanted:  # a phase without required workflows needs whoever runs any of them
            wanted, rule = list(phase.all), "path:phase-any"
        for w in wanted:
            kind = "path:phase-ui" if w in phase.ui else rule
            for agent in t.owners.get(w, []):
                _add(picks, agent, Reason(rule=kind, workflow=w, detail=f"{t.file} phase {phase.phase}"))
    return picks


def structured_work(resolved: Resolved, data: ResolverData) -> list[str]:
    """Work item ids the resolved context calls for: the next one, or the phase's required
    (plus UI) work; a phase without required work calls for none (the agents cover it)."""
    if resolved.next_workflow is not None:
        return [resolved.next_workflow]
    if resolved.phase is None:
        return []
    files = set(resolved.files)
    out: list[str] = []
    for t in data.tracks:
        if t.file not in files:
            continue
        for phase in t.phases:
            if phase.phase == resolved.phase:
                out += [w for w in phase.required + (phase.ui if resolved.has_ui else []) if w not in out]
    return out
