"""Structured rules: owners of the next workflow, or of the phase's required workflows.

Every fact comes from the catalog's path files (or, for workflows no path names, from the
agents' menus): nothing here knows an agent or workflow by name.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentload.catalog.paths import NAMED_PHASE_BASE
from agentload.context import PhaseFacts, Resolved, ResolverData
from agentload.selection.models import Reason

Picks = dict[str, list[Reason]]


def _add(picks: Picks, agent: str, reason: Reason) -> None:
    reasons = picks.setdefault(agent, [])
    if reason not in reasons:
        reasons.append(reason)


def structured_picks(resolved: Resolved, data: ResolverData) -> Picks:
    """Agents the path files (or menus) assign to the resolved context, with reasons."""
    picks: Picks = {}
    tracks = data.tracks_of(resolved.files)
    wid = resolved.next_workflow
    if wid is not None:
        for t in tracks:
            for agent in t.owners.get(wid, []):
                _add(picks, agent, Reason(rule="path:next-workflow", workflow=wid, detail=t.file))
        owners = data.menu_owners.get(wid, [])
        everyone = data.menu_agent_count()
        if everyone > 2 and 2 * len(owners) > everyone:
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
                _add(picks, agent, Reason(rule=kind, workflow=w, detail=f"{t.file} phase {_phase_name(phase)}"))
    return picks


def _phase_name(phase: PhaseFacts) -> str:
    """A phase as its catalog numbers it, or names it when it has no number of its own."""
    return phase.label if phase.label and phase.phase >= NAMED_PHASE_BASE else str(phase.phase)


def structured_work(resolved: Resolved, data: ResolverData) -> list[str]:
    """Work item ids the resolved context calls for: the next one, or the phase's required
    (plus UI) work; a phase without required work calls for none (the agents cover it)."""
    if resolved.next_workflow is not None:
        return [resolved.next_workflow]
    if resolved.phase is None:
        return []
    out: list[str] = []
    for t in data.tracks_of(resolved.files):
        for phase in t.phases:
            if phase.phase == resolved.phase:
                out += [w for w in phase.required + (phase.ui if resolved.has_ui else []) if w not in out]
    return out


def structured_candidates(resolved: Resolved, data: ResolverData) -> Iterator[str]:
    """Agents the path files place around the resolved context, nearest first, lazily (a
    bounded manifest reads only as many as it lists; duplicates are the reader's to skip):
    owners of the work after the next workflow in its phase, of the rest of that phase, of the
    later phases, then of the earlier ones; then the agents with the next workflow on their menu."""
    wid = resolved.next_workflow
    for t in data.tracks_of(resolved.files):
        phases = sorted(t.phases, key=lambda p: p.phase)
        here = resolved.phase
        if here is None and wid is not None:
            here = next((p.phase for p in phases if wid in p.all), None)
        order = phases if here is None else (
            [p for p in phases if p.phase >= here] + [p for p in reversed(phases) if p.phase < here])
        for phase in order:
            flows = phase.all
            if wid in flows:
                i = flows.index(wid)
                flows = flows[i + 1:] + flows[:i]
            for w in flows:
                yield from t.owners.get(w, [])
    if wid is not None:
        yield from data.menu_owners.get(wid, [])


def capped(picks: Picks, ranked: list[str], resolved: Resolved, cap: int, others: str
           ) -> tuple[Picks, list[str], Resolved]:
    """At most ``cap`` picks: what the request chose first, then the path's and menus' owners
    in their order; the others lead the manifest's candidates (``ranked``) and a note says so
    (``others``: how the client reaches them). A context that names no track in a catalog of
    hundreds of path files would otherwise load them all."""
    if len(picks) <= cap:
        return picks, ranked, resolved
    order = sorted(picks, key=lambda a: all(r.rule.startswith(("path:", "menu:")) for r in picks[a]))
    kept, rest = set(order[:cap]), order[cap:]
    note = f"{len(rest)} more agents match; the first {cap} are loaded, {others} the others"
    resolved = resolved.model_copy(update={"notes": [*resolved.notes, note]})
    return {a: r for a, r in picks.items() if a in kept}, rest + ranked, resolved
