"""A project's context read from its own files.

``read_project`` finds the BMad install, the status files its workflows write (a workflow
status file, ``sprint-status.yaml``) in the folders its configuration names (else anywhere in
the project, bounded), and, when no workflow status file exists, the files finished work left
(``evidence``). Workflow names map to the catalog's own ids through the resolver's aliases;
phase and next workflow follow from the history along the catalog's path, as ``resolve`` walks
it (skipped workflows count as passed, as ``workflow-status`` counts them). What a client
sends is laid over it by ``agentload.project.merge``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agentload.context import MAX_PHASE_NUMBER, Context, OutputFacts, ResolverData, norm_id
from agentload.project.evidence import Artifact, match, scan, words
from agentload.project.install import Install, find_files, find_install
from agentload.project.status import (
    SPRINT_STATUS,
    WORKFLOW_STATUS,
    SprintStatus,
    WorkflowStatus,
    parse_sprint_status,
    parse_workflow_status_md,
    parse_workflow_status_yaml,
    read_status,
)
from agentload.resolve import match_tracks, resolve

_ID = re.compile(r"^[^,]{1,200}$")


class ProjectState(BaseModel):
    """What a project's files say. ``fields`` are ``Context`` fields; ``sources`` maps each file
    (relative to the project) to the fields it gave (``workflow_history:<id>`` for one item);
    ``watched`` lists the absolute paths (files and folders) whose change makes it stale."""

    install: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, list[str]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    watched: list[str] = Field(default_factory=list)

    def said(self, rel: str, *names: str) -> None:
        self.sources.setdefault(rel, []).extend(n for n in names if n not in self.sources[rel])


def _folders(install: Install) -> list[Path]:
    """Every folder the configuration names inside the project (the install itself excluded)."""
    own = install.root / install.folder
    found = [install.locate(k) for k in install.config] if install.kind == "v6" else list(install.doc_folders)
    return list(dict.fromkeys(f for f in found if f is not None and not f.is_relative_to(own) and f != install.root))


def _status_files(install: Install, folders: list[Path], names: tuple[str, ...], state: ProjectState) -> list[Path]:
    hits = [f / n for f in folders for n in names if (f / n).is_file()]
    if not hits:
        hits = find_files(install.root, names, skip=install.folder)
        for hit in hits[:1]:
            state.notes.append(f"{install.rel(hit)}: found outside the folders the configuration names")
    return hits


def _canonical(ids: list[str], data: ResolverData, where: str, state: ProjectState) -> list[str]:
    known = [data.aliases[norm_id(i)] for i in ids if _ID.match(i) and norm_id(i) in data.aliases]
    unknown = [i for i in ids if not (_ID.match(i) and norm_id(i) in data.aliases)]
    if unknown:
        state.notes.append(f"{where}: not workflows of this catalog: {', '.join(unknown[:5])}"
                           + (f" (+{len(unknown) - 5})" if len(unknown) > 5 else ""))
    return list(dict.fromkeys(known))


def _track(status: WorkflowStatus, data: ResolverData, state: ProjectState) -> None:
    names = [n for n in (status.track, status.workflow_path and Path(status.workflow_path).stem) if n]
    for name in names:
        tracks = match_tracks(name, data.tracks)
        if tracks and len({t.track for t in tracks}) == 1 and tracks[0].track:
            state.fields["track"] = tracks[0].track
            fields = {t.field_type for t in tracks}
            if status.field_type is None and len(fields) == 1 and tracks[0].field_type:
                state.fields["field_type"] = tracks[0].field_type
            state.said(status.path, *(k for k in ("track", "field_type") if k in state.fields))
            return
    if names:
        state.notes.append(f"{status.path}: track {names[0]!r} is no path of this catalog; not used")


def _from_status(status: WorkflowStatus, data: ResolverData, state: ProjectState) -> list[str]:
    """Fields a workflow status file gives; returns the ids passed along the path (done, skipped)."""
    state.notes += status.notes
    _track(status, data, state)
    if status.field_type:
        if norm_id(status.field_type) in {t.field_type for t in data.tracks}:
            state.fields["field_type"] = norm_id(status.field_type)
            state.said(status.path, "field_type")
        else:
            state.notes.append(f"{status.path}: field type {status.field_type!r} is unknown here; not used")
    if status.level is not None:
        state.fields["complexity_level"] = status.level
        state.said(status.path, "complexity_level")
    done = _canonical(status.done, data, status.path, state)
    if done:
        state.fields["workflow_history"] = done
        state.said(status.path, "workflow_history")
    if status.next:
        nxt = _canonical([status.next], data, status.path, state)
        if nxt:
            state.fields["next_workflow"] = nxt[0]
            state.said(status.path, "next_workflow")
    if status.phase and (digits := re.match(r"^\s*(\d+)", status.phase)):
        state.fields["phase"] = int(digits.group(1))
        state.said(status.path, "phase")
    if status.skipped:
        state.notes.append(f"{status.path}: skipped {', '.join(status.skipped[:5])} (counted as passed)")
    return done + _canonical(status.skipped, data, status.path, state)


def _evidence(install: Install, data: ResolverData, sprint: SprintStatus | None, state: ProjectState) -> None:
    outputs: dict[str, OutputFacts] = {}
    order: dict[str, int] = {}
    for track in data.tracks:
        for wid, facts in track.outputs.items():
            outputs.setdefault(wid, facts)
        for ph in track.phases:
            for wid in [*ph.all, *track.sequence]:
                order.setdefault(wid, len(order))
    if not outputs:
        state.notes.append("no workflow status file, and this catalog names no outputs to look for")
        return
    places = {wid: [p for p in (install.locate(s) for s in f.locations) if p] if f.locations
              else list(install.doc_folders) for wid, f in outputs.items()}
    drop = words(install.config.get("project_name", ""))
    artifacts, visited = scan(install, list(dict.fromkeys(p for ps in places.values() for p in ps)), drop)
    state.watched += [str(v) for v in visited]
    if sprint is not None:  # its entries stand for files: a story past backlog was written
        for kind, counts, past in (("story", sprint.stories, {"backlog"}), ("retrospective", sprint.retrospectives,
                                                                              {"optional", "backlog"})):
            if set(counts) - past - {"unknown"}:
                artifacts.append(Artifact(sprint.path, frozenset({kind}), frozenset({kind})))
    found = match(outputs, places, artifacts, install.root)
    history = sorted(found, key=lambda w: order.get(w, len(order)))
    if history:
        state.fields["workflow_history"] = history
        for wid in history:
            state.said(found[wid], f"workflow_history:{wid}")


def _position(state: ProjectState, data: ResolverData, passed: list[str], origin: str | None) -> None:
    """Phase and next workflow along the catalog's path from the history ``origin`` gave,
    unless a file named them."""
    if "next_workflow" in state.fields or "phase" in state.fields:
        return
    history = passed or state.fields.get("workflow_history", [])
    given = {k: v for k, v in state.fields.items() if k in ("track", "field_type", "complexity_level")}
    if not history or origin is None:
        return
    try:
        out = resolve(Context(**given, workflow_history=history), data)
    except ValidationError:
        return
    for name, value in (("phase", _phase_name(out.phase, data)), ("next_workflow", out.next_workflow)):
        if value is not None:
            state.fields[name] = value
            state.said(origin, name)


def _phase_name(number: int | None, data: ResolverData) -> int | str | None:
    """A phase as a context names it: its number up to ``MAX_PHASE_NUMBER``, else the catalog's
    label ("ship"); None for an unlabelled sequence (v4 workflows have no phases)."""
    if number is None or number <= MAX_PHASE_NUMBER:
        return number
    return next((p.label for t in data.tracks for p in t.phases if p.phase == number and p.label), None)


def _validated(state: ProjectState) -> None:
    """Drop what ``Context`` refuses (a file can say anything), with a note."""
    try:
        Context.model_validate(state.fields)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            if state.fields.pop(name, None) is not None:
                state.notes.append(f"{name} from the files not used: {err['msg']}")


def read_project(root: Path, data: ResolverData) -> ProjectState:
    """The context ``root``'s files give, with notes; raises NotADirectoryError for a non-folder."""
    root = root.resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    install = find_install(root)
    state = ProjectState()
    if install is None:
        state.notes.append("no BMad install (_bmad/, .bmad-core/) in the project")
        state.watched.append(str(root))
        return state
    state.install = install.folder
    folders = _folders(install)
    state.watched += [str(root), *(str(root / f) for f in install.files), *(str(f) for f in folders)]
    passed: list[str] = []
    statuses = _status_files(install, folders, WORKFLOW_STATUS, state) if install.kind == "v6" else []
    sprints = _status_files(install, folders, (SPRINT_STATUS,), state) if install.kind == "v6" else []
    sprint = None
    for path in sprints[:1]:
        text = read_status(root, path, state.notes)
        if text is not None:
            sprint = parse_sprint_status(install.rel(path), text)
            state.notes += sprint.notes or [sprint.summary()]
    for path in statuses[:1]:
        text = read_status(root, path, state.notes)
        if text is not None:
            parse = parse_workflow_status_md if path.suffix == ".md" else parse_workflow_status_yaml
            passed = _from_status(parse(install.rel(path), text), data, state)
    state.watched += [str(p) for p in statuses[:1] + sprints[:1]]
    origin = install.rel(statuses[0]) if statuses else None
    if not statuses:
        _evidence(install, data, sprint, state)
        origin = next(reversed([f for f, n in state.sources.items() if n]), None)
    _position(state, data, passed, origin)
    _validated(state)
    state.notes = install.notes + state.notes
    if not state.fields and not statuses and sprint is None:
        state.notes.append("no BMad status file or finished work found")
    return state
