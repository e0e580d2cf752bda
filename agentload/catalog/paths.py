"""Workflow path files and module-help tables: which agent runs which workflow, when.

Path files differ between modules and releases (phases from 0 or 1, workflows marked
``required``, ``optional``, ``recommended`` or ``conditional``, a file under ``exec`` or
``workflow`` or only a ``command``); every variant is accepted. Later v6 releases list the
same facts in a ``module-help.csv``; it is read into the same ``PathFile`` shape.
"""

from __future__ import annotations

import csv
import io
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


def parse_module_help(file: str, text: str, resolve: RefResolver) -> PathFile:
    """Read a ``module-help.csv`` (workflow, phase, agent, required) into a track-less path."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValueError("empty CSV")
    by_phase: dict[int, list[PathWorkflow]] = {}
    for i, row in enumerate(reader):
        agent = _col(row, "agent", "agent-name")
        name = _col(row, "id", "workflow-id", "code", "name", "command")
        if not agent or not name:
            continue
        raw_phase = _col(row, "phase")
        digits = "".join(ch for ch in raw_phase if ch.isdigit())
        phase = int(digits) if digits else -1
        required = _truthy(_col(row, "required"))
        ref = _col(row, "workflow-file", "workflow", "file", "exec")
        by_phase.setdefault(phase, []).append(
            PathWorkflow(
                id=_col(row, "id", "workflow-id", "name", "code") or f"row-{i}",
                agent=agent,
                kind="required" if required else "optional",
                workflow_file=resolve(ref) if ref else None,
                command=_col(row, "command") or None,
                text=_col(row, "description", "purpose"),
            )
        )
    if not by_phase:
        raise ValueError("no row names both a workflow and an agent")
    phases = [PathPhase(phase=p, workflows=w) for p, w in sorted(by_phase.items()) if p >= 0]
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return PathFile(file=file, stem=stem, phases=phases, method_name="module help")


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
