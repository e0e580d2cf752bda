"""Workflow path files and module-help tables: which agent runs which workflow, when.

Path files differ between modules and releases (phases from 0 or 1, workflows marked
``required``, ``optional``, ``recommended`` or ``conditional``, a file under ``exec`` or
``workflow`` or only a ``command``); every variant is accepted. Later v6 releases list the
same facts in a ``module-help.csv``; it is read into the same ``PathFile`` shape.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from agentload.catalog.models import PathFile, PathPhase, PathWorkflow
from agentload.catalog.safeyaml import safe_load

RefResolver = Callable[[str], str | None]


def _truthy(value: Any) -> bool:  # noqa: ANN401 - YAML scalars
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "y", "1", "required"}
    return bool(value)


def _kind(entry: dict[str, Any]) -> tuple[str, str | None]:
    """(kind, condition) of a phase or workflow entry, whatever flag style it uses."""
    cond = entry.get("conditional")
    if cond not in (None, False, ""):
        return "conditional", str(cond) if not isinstance(cond, bool) else "conditional"
    if _truthy(entry.get("required")):
        return "required", None
    if _truthy(entry.get("recommended")):
        return "recommended", None
    if "optional" in entry and _truthy(entry.get("optional")):
        return "optional", None
    if "required" in entry:  # required: false
        return "optional", None
    return "optional", None


def _command_name(command: str | None) -> str | None:
    if not command:
        return None
    return command.strip().strip("/").replace(":", "/").split("/")[-1] or None


def _workflow(entry: dict[str, Any], resolve: RefResolver, index: int) -> PathWorkflow:
    kind, condition = _kind(entry)
    ref = entry.get("workflow") or entry.get("exec") or entry.get("file")
    command = entry.get("command")
    wid = entry.get("id") or entry.get("name") or _command_name(command) or f"step-{index}"
    text = " ".join(str(entry.get(k) or "") for k in ("name", "purpose", "output", "note", "description"))
    return PathWorkflow(
        id=str(wid).strip(),
        agent=str(entry["agent"]).strip() if entry.get("agent") else None,
        kind=kind,
        condition=condition,
        workflow_file=resolve(str(ref)) if ref else None,
        command=str(command) if command else None,
        text=text.strip(),
    )


def parse_path_file(file: str, text: str, resolve: RefResolver) -> PathFile:
    """Parse one ``paths/*.yaml``; raises ValueError when it is not a path file at all."""
    data = safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("phases"), list):
        raise ValueError("not a workflow path file: no 'phases' list")
    phases: list[PathPhase] = []
    for i, raw in enumerate(data["phases"]):
        if not isinstance(raw, dict):
            continue
        number = raw.get("phase", i)
        try:
            phase_no = int(number)
        except (TypeError, ValueError):
            phase_no = i
        kind, condition = _kind(raw)
        wfs = raw.get("workflows") or []
        workflows = [_workflow(w, resolve, j) for j, w in enumerate(wfs) if isinstance(w, dict)]
        phases.append(
            PathPhase(phase=phase_no, name=str(raw.get("name") or ""), kind=kind,
                      condition=condition, workflows=workflows)
        )
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return PathFile(
        file=file,
        stem=stem,
        track=str(data["track"]) if data.get("track") else None,
        field_type=str(data["field_type"]) if data.get("field_type") else None,
        method_name=str(data.get("method_name") or ""),
        description=str(data.get("description") or ""),
        phases=phases,
    )


def _col(row: dict[str, str], *names: str) -> str:
    for name in names:
        for key, value in row.items():
            if key and key.strip().lower().replace("_", "-") == name and value:
                return value.strip()
    return ""


_PHASE_DIGITS = re.compile(r"^\s*(\d+)")
NAMED_PHASE_BASE = 100  # phases named without a number ("plan", "ship") sort after numbered ones


def _ids(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[|,;]", value) if v.strip()]


def _topo_order(rows: list[PathWorkflow]) -> list[str]:
    """Row ids in an order that respects ``preceded-by``/``followed-by``; file order breaks ties."""
    ids = list(dict.fromkeys(r.id for r in rows))
    preds: dict[str, set[str]] = {i: set() for i in ids}
    for r in rows:
        preds[r.id] |= {a for a in r.after if a in preds and a != r.id}
        for b in r.before:
            if b in preds and b != r.id:
                preds[b].add(r.id)
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(ids):
        ready = next((i for i in ids if i not in placed and preds[i] <= placed), None)
        if ready is None:  # a cycle: keep file order for the rest
            ready = next(i for i in ids if i not in placed)
        done.append(ready)
        placed.add(ready)
    return done


def parse_module_help(file: str, text: str, resolve: RefResolver) -> PathFile:
    """Read a ``module-help.csv`` (or ``bmad-help.csv``) into a track-less path.

    Every column variant: work named by ``skill`` (v6.2+) or ``name``/``code``/``command``
    (v6.0); an ``agent``/``agent-name`` column or none (owners then come from the agents'
    menus); phases as numbers (``2-planning`` → 2), names (``plan``; numbered from
    ``NAMED_PHASE_BASE`` in path order) or ``anytime`` (kept apart in ``anytime``);
    ``preceded-by``/``followed-by`` give the order (``sequence``). Raises ValueError when no
    row names any work.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValueError("empty CSV")
    rows: list[tuple[str, PathWorkflow]] = []
    for i, row in enumerate(reader):
        skill = _col(row, "skill")
        name = skill or _col(row, "id", "workflow-id", "name", "code", "command")
        if not name or name.startswith("_"):  # "_meta" rows describe the module itself
            continue
        ref = _col(row, "workflow-file", "workflow", "file", "exec")
        if not (skill or ref or _col(row, "agent", "agent-name", "command")):
            continue  # names nothing that can be run or owned
        rows.append((_col(row, "phase").lower(), PathWorkflow(
            id=name if skill else (_col(row, "id", "workflow-id", "name", "code") or f"row-{i}"),
            agent=_col(row, "agent", "agent-name") or None,
            kind="required" if _truthy(_col(row, "required")) else "optional",
            workflow_file=resolve(ref) if ref else None,
            command=_col(row, "command") or (skill or None),
            text=_col(row, "description", "purpose"),
            after=_ids(_col(row, "preceded-by")),
            before=_ids(_col(row, "followed-by")),
            outputs=_ids(_col(row, "outputs")),
            output_locations=_ids(_col(row, "output-location")),
        )))
    if not rows:
        raise ValueError("no row names a workflow or skill")
    order = _topo_order([w for _, w in rows])
    position = {wid: n for n, wid in enumerate(order)}
    labels: dict[str, list[PathWorkflow]] = {}
    anytime: list[PathWorkflow] = []
    for label, w in rows:
        if not label or label == "anytime":
            anytime.append(w)
        else:
            labels.setdefault(label, []).append(w)
    named = sorted((lb for lb in labels if not _PHASE_DIGITS.match(lb)),
                   key=lambda lb: min(position[w.id] for w in labels[lb]))
    phases = []
    for label, wfs in labels.items():
        m = _PHASE_DIGITS.match(label)
        number = int(m.group(1)) if m else NAMED_PHASE_BASE + named.index(label)
        phases.append(PathPhase(phase=number, name=label, workflows=sorted(wfs, key=lambda w: position[w.id])))
    phases.sort(key=lambda p: p.phase)
    in_phase = {w.id for p in phases for w in p.workflows}
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return PathFile(file=file, stem=stem, phases=phases, anytime=anytime, method_name="module help",
                    sequence=[w for w in order if w in in_phase])


def parse_levels(text: str) -> dict[int, dict[str, object]]:
    data = safe_load(text)
    levels = data.get("levels") if isinstance(data, dict) else None
    if not isinstance(levels, dict):
        raise ValueError("no 'levels' mapping")
    out: dict[int, dict[str, object]] = {}
    for key, value in levels.items():
        try:
            out[int(key)] = dict(value) if isinstance(value, dict) else {"title": str(value)}
        except (TypeError, ValueError):
            continue
    return out
