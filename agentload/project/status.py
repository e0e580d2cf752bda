"""BMad's own progress files, read as the workflows that write them define them.

* ``bmm-workflow-status.yaml`` (v6 alpha ``workflow-init``, from ``workflow-status-template.yaml``):
  ``selected_track`` / ``workflow_path``, ``field_type``, ``project_level`` (earlier alphas) and
  ``workflow_status``: one entry per workflow id whose value is ``required`` / ``optional`` /
  ``recommended`` / ``conditional`` (pending), a file path (completed) or ``skipped``. Hand-kept
  variants are accepted too: entries grouped by phase, entries as mappings (``status``,
  ``output_file``), a ``completed_workflows`` mapping.
* ``bmm-workflow-status.md`` (earlier alphas): ``KEY: value`` lines (``PROJECT_LEVEL``,
  ``FIELD_TYPE``, ``WORKFLOW_PATH``, ``CURRENT_PHASE``, ``CURRENT_WORKFLOW``, ``NEXT_COMMAND``).
* ``sprint-status.yaml`` (v6 ``sprint-planning``): ``development_status`` maps ``epic-N``,
  ``N-M-title`` (stories) and ``epic-N-retrospective`` to their status.

The file names are part of the formats read here (the workflows above write them); they name no
agent or workflow. A malformed file gives a note naming it, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentload.catalog.files import CatalogFileError, read_text
from agentload.catalog.safeyaml import safe_load

WORKFLOW_STATUS = ("bmm-workflow-status.yaml", "bmm-workflow-status.md")
SPRINT_STATUS = "sprint-status.yaml"
MAX_STATUS_BYTES = 500_000
PENDING = {"required", "optional", "recommended", "conditional", "pending", "not-started", "todo", "in-progress",
           "backlog", ""}
COMPLETED = {"complete", "completed", "done", "finished"}
_PATH_LIKE = re.compile(r"[/\\]|\.[A-Za-z]{1,5}$")
_KEY_VALUE = re.compile(r"^[\s>*-]*\**\s*([A-Za-z][A-Za-z0-9 _]{1,40}?)\s*\**\s*:\s*\**\s*(.*?)\s*$")
_UNFILLED = re.compile(r"\{\{.*\}\}")


@dataclass
class WorkflowStatus:
    """What a workflow status file says; ``path`` is relative to the project."""

    path: str
    track: str | None = None
    workflow_path: str | None = None
    field_type: str | None = None
    level: int | None = None
    done: list[str] = field(default_factory=list)  # in file order
    skipped: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    next: str | None = None  # the .md format names it
    phase: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class SprintStatus:
    path: str
    stories: dict[str, int] = field(default_factory=dict)  # status -> count
    epics: dict[str, int] = field(default_factory=dict)
    retrospectives: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        total = sum(self.stories.values())
        parts = [f"{n} {s}" for s, n in sorted(self.stories.items(), key=lambda kv: -kv[1])]
        return f"{self.path}: {total} stories ({', '.join(parts) or 'none'})"


def _text(value: Any) -> str | None:  # noqa: ANN401 - YAML scalars
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return None if not text or _UNFILLED.search(text) else text


def _level(raw: Any, notes: list[str], where: str) -> int | None:  # noqa: ANN401 - YAML scalar
    text = _text(raw)
    if text is None:
        return None
    digits = re.match(r"^\D*(\d+)", text)
    if digits and 0 <= int(digits.group(1)) <= 4:
        return int(digits.group(1))
    notes.append(f"{where}: project level {text[:20]!r} is not 0-4; ignored")
    return None


def _classify(status: WorkflowStatus, wid: str, value: Any) -> None:  # noqa: ANN401 - YAML value
    if isinstance(value, dict):
        state = _text(value.get("status")) or ""
        output = _text(value.get("output_file") or value.get("output") or value.get("file"))
        value = output if output and state.lower() not in PENDING | {"skipped"} else state
    text = (_text(value) or "").lower()
    if text == "skipped":
        status.skipped.append(wid)
    elif text in COMPLETED or (text and _PATH_LIKE.search(text) and text not in PENDING):
        status.done.append(wid)
    else:
        status.pending.append(wid)


_ENTRY_KEYS = {"status", "output_file", "output", "file", "completed_at"}


def _entries(status: WorkflowStatus, items: Any, depth: int = 0) -> None:  # noqa: ANN401 - YAML
    """Workflow entries: ``id: status``, grouped by phase (nested mappings), or a list of mappings."""
    if isinstance(items, list):
        for item in items[:500]:
            if isinstance(item, dict):
                wid = _text(item.get("id") or item.get("workflow") or item.get("name"))
                if wid:
                    _classify(status, wid, item)
        return
    if not isinstance(items, dict) or depth > 3:
        return
    for key, value in list(items.items())[:500]:
        if isinstance(value, dict) and not _ENTRY_KEYS & set(value):
            _entries(status, value, depth + 1)  # a phase group
        elif isinstance(value, list) and depth == 0:
            _entries(status, value, depth + 1)
        else:
            _classify(status, str(key).strip(), value)


def parse_workflow_status_yaml(path: str, text: str) -> WorkflowStatus:
    out = WorkflowStatus(path)
    try:
        data = safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any YAML failure is reported with the file
        out.notes.append(f"{path}: not valid YAML ({str(exc).splitlines()[0][:80]}); ignored")
        return out
    if not isinstance(data, dict):
        out.notes.append(f"{path}: not a mapping; ignored")
        return out
    out.track = _text(data.get("selected_track") or data.get("track"))
    out.workflow_path = _text(data.get("workflow_path"))
    out.field_type = _text(data.get("field_type"))
    out.level = _level(data.get("project_level"), out.notes, path)
    items = data.get("workflow_status")
    if isinstance(items, str):
        out.notes.append(f"{path}: workflow_status is not filled in")
    _entries(out, items)
    for wid, value in (data.get("completed_workflows") or {}).items() if isinstance(data.get("completed_workflows"),
                                                                                  dict) else []:
        _classify(out, str(wid), value if isinstance(value, dict) else "done")
    return out


def parse_workflow_status_md(path: str, text: str) -> WorkflowStatus:
    out = WorkflowStatus(path)
    fields: dict[str, str] = {}
    for line in text.splitlines()[:2000]:
        m = _KEY_VALUE.match(line)
        if m and (value := _text(m.group(2).strip("*` "))):
            fields.setdefault(re.sub(r"[\s]+", "_", m.group(1).strip()).upper(), value)
    out.track = fields.get("SELECTED_TRACK") or fields.get("TRACK")
    out.workflow_path = fields.get("WORKFLOW_PATH")
    out.field_type = fields.get("FIELD_TYPE")
    out.level = _level(fields.get("PROJECT_LEVEL"), out.notes, path)
    out.phase = fields.get("CURRENT_PHASE")
    command = fields.get("NEXT_COMMAND") or ""
    out.next = command.strip().strip("/").replace(":", "/").split("/")[-1].split()[0] if command.strip("/ ") else None
    current = fields.get("CURRENT_WORKFLOW")
    if out.next is None and current and current.lower() not in COMPLETED:
        out.next = current
    if not fields:
        out.notes.append(f"{path}: no 'KEY: value' lines; ignored")
    return out


def parse_sprint_status(path: str, text: str) -> SprintStatus:
    out = SprintStatus(path)
    try:
        data = safe_load(text)
    except Exception as exc:  # noqa: BLE001 - reported with the file
        out.notes.append(f"{path}: not valid YAML ({str(exc).splitlines()[0][:80]}); ignored")
        return out
    items = data.get("development_status") if isinstance(data, dict) else None
    if not isinstance(items, dict):
        out.notes.append(f"{path}: no development_status mapping; ignored")
        return out
    for key, value in list(items.items())[:5000]:
        key, state = str(key), (_text(value) or "unknown").lower()
        kind = (out.retrospectives if key.endswith("-retrospective")
                else out.epics if key.startswith("epic-") else out.stories)
        kind[state] = kind.get(state, 0) + 1
    return out


def read_status(root: Path, path: Path, notes: list[str]) -> str | None:
    """A status file's text, or None with a note naming it (oversize, not UTF-8, outside the project)."""
    try:
        return read_text(root, path, MAX_STATUS_BYTES)
    except CatalogFileError as exc:
        notes.append(f"{path.relative_to(root).as_posix()}: {exc}; ignored")
        return None
