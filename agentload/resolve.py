"""Inference of missing context fields from the catalog's own path files and menus.

``build_resolver_data`` extracts the facts once per catalog version; ``resolve`` is pure and
cheap (tens of microseconds) so both workers and the API can compute a context's key.
Documented fallbacks, never exceptions: an unknown track, workflow or phase is recorded in
``Resolved.unknown`` and ``Resolved.notes`` and the rest of the context is still used.
"""

from __future__ import annotations

import re

from agentload.catalog import Catalog, PathFile, PathPhase, PathWorkflow
from agentload.catalog.workflows import short_name
from agentload.context import (
    Context,
    OutputFacts,
    PhaseFacts,
    Resolved,
    ResolverData,
    TrackFacts,
    norm_id,
    normalize_request,
)

UI_CONDITION = re.compile(r"(^|[^a-z])(ui|ux|interface|frontend)([^a-z]|$)")
UI_WORDS = re.compile(
    r"\b(ui|ux|screens?|pages?|front-?end|wireframes?|mockups?|layouts?|buttons?|forms?|"
    r"dashboard|mobile app|web app|user interface|visual|look and feel|onboarding flow)\b",
    re.I,
)


def _is_ui(condition: str | None) -> bool:
    return bool(condition) and bool(UI_CONDITION.search(norm_id(condition or "").replace("-", " ")))


def _track_aliases(track: str | None, field: str | None, stem: str, method: str) -> list[str]:
    out = {norm_id(stem)}
    if track:
        out.add(norm_id(track))
    if method:
        out.add(norm_id(method))
    if field:
        out.add(norm_id(stem).replace(norm_id(field), "").strip("-"))
    return sorted(a for a in out if a)


def _merged_help(catalog: Catalog) -> list[PathFile]:
    """Track paths as they are, plus every track-less help table merged into one path.

    A catalog's help tables (``module-help.csv`` per module) together describe one method:
    phases with the same number merge, the whole-path order is concatenated.
    """
    tracked = [p for p in catalog.paths if p.track or not (p.anytime or p.sequence or p.method_name == "module help")]
    kept = {id(p) for p in tracked}
    helps = [p for p in catalog.paths if id(p) not in kept]
    if len(helps) <= 1:
        return tracked + helps
    phases: dict[int, PathPhase] = {}
    for pf in helps:
        for ph in pf.phases:
            into = phases.setdefault(ph.phase, PathPhase(phase=ph.phase, name=ph.name, kind=ph.kind))
            into.workflows += ph.workflows
    merged = PathFile(file=helps[0].file, stem=helps[0].stem, method_name="module help",
                      phases=[phases[k] for k in sorted(phases)],
                      anytime=[w for pf in helps for w in pf.anytime],
                      sequence=[w for pf in helps for w in pf.sequence])
    return [*tracked, merged]


def _phase_facts(ph: PathPhase, owners: dict[str, list[str]], aliases: dict[str, str],
                 file_to_id: dict[str, str], outputs: dict[str, OutputFacts]) -> PhaseFacts:
    facts = PhaseFacts(phase=ph.phase, label=norm_id(ph.name) if ph.name else "")
    for w in ph.workflows:
        wid = norm_id(w.id)
        facts.all.append(wid)
        if w.outputs and wid not in outputs:
            outputs[wid] = OutputFacts(names=list(w.outputs), locations=list(w.output_locations))
        if _is_ui(w.condition):
            facts.ui.append(wid)
        elif w.kind == "required" or (w.kind == "conditional" and ph.kind != "optional"):
            facts.required.append(wid)
        _own(w, wid, owners, aliases, file_to_id)
    return facts


def _own(w: PathWorkflow, wid: str, owners: dict[str, list[str]], aliases: dict[str, str],
         file_to_id: dict[str, str]) -> None:
    if w.agent and w.agent not in owners.setdefault(wid, []):
        owners[wid].append(w.agent)
    aliases[wid] = wid
    if w.command:
        aliases.setdefault(norm_id(w.command.strip("/").replace(":", "/").split("/")[-1]), wid)
    if w.workflow_file:
        file_to_id.setdefault(w.workflow_file, wid)


def build_resolver_data(catalog: Catalog, level_tracks: dict[int, str]) -> ResolverData:
    """Collect tracks, phases, owners and workflow aliases from the catalog's files."""
    aliases: dict[str, str] = {}
    file_to_id: dict[str, str] = {}
    tracks: list[TrackFacts] = []
    for pf in _merged_help(catalog):
        owners: dict[str, list[str]] = {}
        outputs: dict[str, OutputFacts] = {}
        phases = [_phase_facts(ph, owners, aliases, file_to_id, outputs) for ph in pf.phases]
        for w in pf.anytime:
            _own(w, norm_id(w.id), owners, aliases, file_to_id)
        tracks.append(
            TrackFacts(
                file=pf.file,
                track=norm_id(pf.track) if pf.track else None,
                field_type=norm_id(pf.field_type) if pf.field_type else None,
                aliases=_track_aliases(pf.track, pf.field_type, pf.stem, pf.method_name),
                phases=phases,
                owners=owners,
                sequence=[norm_id(w) for w in pf.sequence],
                outputs=outputs,
            )
        )
    for work in catalog.work_items.values():
        wid = aliases.get(norm_id(work.id)) or file_to_id.get(work.entry_file or "") or norm_id(work.id)
        aliases.setdefault(norm_id(work.id), wid)
        if work.name:
            aliases.setdefault(norm_id(work.name), wid)
        if work.entry_file:
            file_to_id.setdefault(work.entry_file, wid)
    menu_owners: dict[str, list[str]] = {}
    listed: set[tuple[str, str]] = set()  # (workflow, agent) pairs already in menu_owners
    for agent in catalog.agents.values():
        for item in agent.menu:
            name = norm_id(item.name) if item.name else ""
            canon = (file_to_id.get(item.workflow_file or "") or aliases.get(norm_id(item.work_item or ""))
                     or aliases.get(name) or name)
            if not canon:
                continue
            if item.workflow_file:
                file_to_id.setdefault(item.workflow_file, canon)
            aliases.setdefault(name, canon)
            aliases.setdefault(canon, canon)
            if (canon, agent.id) not in listed:
                listed.add((canon, agent.id))
                menu_owners.setdefault(canon, []).append(agent.id)
    for file, wid in file_to_id.items():
        info = catalog.workflows.get(file)
        if info is not None and info.name:
            aliases.setdefault(norm_id(info.name), wid)
        aliases.setdefault(norm_id(short_name(file)), wid)
    return ResolverData(tracks=tracks, aliases=aliases, menu_owners=menu_owners,
                        level_tracks=dict(level_tracks))


def match_tracks(name: str, tracks: list[TrackFacts]) -> list[TrackFacts]:
    """Path files designated by a track name: exact alias first, else the most specific
    files whose alias contains every word of the name (``enterprise`` -> enterprise-*)."""
    n = norm_id(name)
    exact = [t for t in tracks if n in t.aliases]
    if exact:
        return exact
    return _closest_tracks(n, tracks)


def _closest_tracks(n: str, tracks: list[TrackFacts]) -> list[TrackFacts]:
    """The tracks with an alias containing every word of ``n`` and the fewest other words."""
    words = set(n.split("-"))
    best: list[TrackFacts] = []
    best_extra = 10**6
    for t in tracks:
        extras = [len(set(a.split("-")) - words) for a in t.aliases if words <= set(a.split("-"))]
        if not extras:
            continue
        extra = min(extras)
        if extra < best_extra:
            best, best_extra = [t], extra
        elif extra == best_extra:
            best.append(t)
    return best


_NUMBER_PREFIX = re.compile(r"^\d+-")


def _phase(t: TrackFacts, value: int | str) -> PhaseFacts | None:
    """The phase a context names: by number, or by the catalog's label (``2-planning``,
    ``planning`` for ``2-planning``, ``plan``)."""
    if isinstance(value, int):
        return next((p for p in t.phases if p.phase == value), None)
    name = norm_id(value)
    return next((p for p in t.phases if p.label and (p.label == name or _NUMBER_PREFIX.sub("", p.label) == name)),
                None)


def _next_after(t: TrackFacts, done: set[str], has_ui: bool | None) -> tuple[int, str | None]:
    """Walk the path: the first required (or UI, when there is a UI) workflow after the
    furthest one done. (last phase, None) when the path is complete."""
    phase_of = {w: p for p in t.phases for w in p.all}
    order = ([(phase_of[w], w) for w in t.sequence if w in phase_of] if t.sequence
             else [(p, w) for p in t.phases for w in p.all])
    last = max((i for i, (_, w) in enumerate(order) if w in done), default=-1)
    for p, w in order[last + 1:]:
        if w not in done and (w in p.required or (has_ui and w in p.ui)):
            return p.phase, w
    return (t.phases[-1].phase if t.phases else 0), None


def _candidates(ctx: Context, data: ResolverData, out: Resolved) -> list[TrackFacts]:
    cands = list(data.tracks)
    name = ctx.track
    if name is None and ctx.complexity_level is not None:
        name = data.level_tracks.get(ctx.complexity_level)
        if name:
            out.notes.append(f"track {name!r} inferred from complexity level {ctx.complexity_level}")
    if name:
        matched = data.tracks_aliased(norm_id(name)) or _closest_tracks(norm_id(name), data.tracks)
        trackless = [] if matched else [t for t in data.tracks if t.track is None and t.phases]
        if not matched and trackless and not any(t.track for t in data.tracks):
            out.notes.append(f"track {name!r}: this catalog names no tracks; its help tables give the phases")
            cands = trackless
        elif not matched:
            out.track = norm_id(name)
            out.notes.append(f"track {name!r} has no path file in this catalog")
            return []
        else:
            cands = matched
    if ctx.field_type:
        narrowed = [t for t in cands if t.field_type == norm_id(ctx.field_type)]
        if narrowed:
            cands = narrowed
        else:
            out.notes.append(f"field type {ctx.field_type!r} not found; ignored")
    done = {data.aliases.get(norm_id(h), norm_id(h)) for h in ctx.workflow_history}
    if done and len(cands) > 1:
        on_paths = {w for w in done if data.on_a_path(w)}
        narrowed = [t for t in cands if done & t.owners.keys() and all(w in t.owners for w in on_paths)]
        if narrowed and len(narrowed) < len(cands):
            cands = narrowed
            out.notes.append("path narrowed by workflow history")
    return cands


def resolve(ctx: Context, data: ResolverData) -> Resolved:
    """Infer what the context leaves out; the result's ``key()`` names its selection."""
    out = Resolved(request=normalize_request(ctx.request))
    out.user_role = norm_id(ctx.user_role) if ctx.user_role and out.request else None
    has_ui = ctx.has_ui
    if has_ui is None and ctx.request and UI_WORDS.search(ctx.request):
        has_ui = True
        out.notes.append("has_ui inferred from the request")
    cands = _candidates(ctx, data, out)
    phase = ctx.phase
    for h in ctx.workflow_history:
        if norm_id(h) not in data.aliases:
            out.notes.append(f"workflow_history item {h!r} is unknown to this catalog; ignored")
    if ctx.next_workflow:
        wid = data.aliases.get(norm_id(ctx.next_workflow), norm_id(ctx.next_workflow))
        in_path = [t for t in cands if wid in t.owners]
        if in_path:
            cands = in_path
            wf_phases = [p for t in in_path for p in t.phases if wid in p.all]
            wf_phase = min(p.phase for p in wf_phases) if wf_phases else None
            given = [p.phase for t in in_path if phase is not None and (p := _phase(t, phase))]
            if phase is not None and wf_phase is not None and wf_phase not in given:
                out.notes.append(f"phase {phase} contradicts next workflow {wid!r} (phase {wf_phase}); "
                                 "the workflow's phase wins")
            out.phase, out.next_workflow = wf_phase, wid
        elif wid in data.menu_owners:
            out.next_workflow = wid
            out.notes.append(f"workflow {wid!r} is on agents' menus but in no path file")
            cands = []
        elif norm_id(ctx.next_workflow) in data.aliases:
            out.next_workflow = wid
            out.notes.append(f"work item {wid!r} belongs to no agent's menu and no phase")
            cands = []
        else:
            out.unknown.append(f"workflow {ctx.next_workflow!r}")
            out.notes.append(f"workflow {ctx.next_workflow!r} is unknown to this catalog; ignored")
    if out.next_workflow is None and cands:
        if phase is not None:
            matched = [(t, f) for t in cands if (f := _phase(t, phase))]
            if matched:
                cands = [t for t, _ in matched]
                out.phase = matched[0][1].phase
                if isinstance(phase, str) or matched[0][1].label:
                    out.notes.append(f"phase {phase!r} is the catalog's {matched[0][1].label or out.phase!r}")
            else:
                out.unknown.append(f"phase {phase}")
                out.notes.append(f"phase {phase} is in no matching path file; ignored")
        if out.phase is None and ctx.workflow_history:
            done = {data.aliases.get(norm_id(h), norm_id(h)) for h in ctx.workflow_history}
            steps = {_next_after(t, done, has_ui) for t in cands}
            multi_phase = all(len(t.phases) > 1 for t in cands)
            if len(steps) == 1 and (next(iter(steps))[1] is not None or multi_phase):
                out.phase, out.next_workflow = steps.pop()
                out.notes.append("phase and next workflow inferred from the history")
            elif len({p for p, _ in steps}) == 1 and multi_phase:
                # a one-phase path (v4 sequences) would make "the phase" the whole path
                out.phase = next(iter(steps))[0]
                out.notes.append("phase inferred from the history")
        if out.phase is None and not ctx.workflow_history and phase is None and (ctx.track or ctx.field_type) \
                and not out.request:
            if all(len(t.phases) == 1 for t in cands):  # sequences (v4 workflows): their first steps
                firsts = {_next_after(t, set(), has_ui) for t in cands}
                if len(firsts) == 1 and (first := firsts.pop())[1] is not None:
                    out.phase, out.next_workflow = first
                    out.notes.append(f"nothing but the track or field type given: its first step {first[1]!r}")
            else:
                starts = {next((p.phase for p in t.phases if p.all), None) for t in cands}
                if len(starts) == 1 and (start := starts.pop()) is not None:
                    out.phase = start
                    out.notes.append(f"nothing but the track or field type given: selected where it starts "
                                     f"(phase {start})")
    structured = out.phase is not None or (out.next_workflow is not None and cands)
    if structured:
        out.files = sorted(t.file for t in cands)
        tracks = {t.track for t in cands}
        fields = {t.field_type for t in cands}
        out.track = tracks.pop() if len(tracks) == 1 else None
        out.field_type = fields.pop() if len(fields) == 1 else None
        if out.next_workflow is None and out.phase is not None:
            has_ui_matters = any((p := _phase(t, out.phase)) and p.ui for t in cands)
            out.has_ui = bool(has_ui) if has_ui_matters else None
    elif out.next_workflow is None and out.track is None and cands and len(cands) < len(data.tracks):
        tracks = {t.track for t in cands}
        out.track = tracks.pop() if len(tracks) == 1 else None
    return out
