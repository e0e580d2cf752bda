"""What a client sends, laid over what a project's files say.

The client wins field by field, and a client field also drops the file fields it makes stale,
so that a file's value never decides over a client's through ``resolve``'s own precedence
(a next workflow wins over a phase there, a track over a level). The report that goes with a
selection names the files and fields used and what was dropped, compactly (it is delivered).
"""

from __future__ import annotations

from typing import Any

from agentload.context import norm_id
from agentload.project.state import ProjectState

MAX_NOTES = 8
POSITION = ("phase", "next_workflow", "workflow_history")


def merge(given: dict[str, Any], state: ProjectState) -> tuple[dict[str, Any], dict[str, Any]]:
    """(context fields, report): the client's fields over the files'. A client position (phase,
    next workflow, history) or another track / field type drops the files' phase and next
    workflow; a client level drops the files' track and a client track their level (the track
    would win over the level in ``resolve``). The report names the files and fields used."""
    files = dict(state.fields)
    dropped: list[str] = []

    def drop(names: tuple[str, ...], because: str) -> None:
        for name in names:
            if name in files and name not in given:
                files.pop(name)
                dropped.append(f"{name} (the client gave {because})")

    if any(k in given for k in POSITION):
        drop(("phase", "next_workflow"), "/".join(k for k in POSITION if k in given))
    for key in ("track", "field_type"):
        if key in given and key in files and norm_id(str(given[key])) != norm_id(str(files[key])):
            drop(("phase", "next_workflow"), key)
    if "complexity_level" in given:
        drop(("track",), "complexity_level")
    if "track" in given:
        drop(("complexity_level",), "track")
    overridden = [k for k in files if k in given]
    used = {k: v for k, v in files.items() if k not in given}
    sources = {rel: kept for rel, names in state.sources.items()
               if (kept := [n for n in names if n.split(":")[0] in used])}
    notes = list(state.notes)
    if overridden or dropped:
        notes.append("files' " + ", ".join([f"{k} (the client gave it)" for k in overridden] + dropped) + " not used")
    if len(notes) > MAX_NOTES:
        notes = [*notes[:MAX_NOTES - 1], f"... {len(notes) - MAX_NOTES + 1} more"]
    report: dict[str, Any] = {k: v for k, v in (("from", sources), ("notes", notes)) if v}
    return {**used, **given}, report
