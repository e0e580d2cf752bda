"""Evaluate a selector on scenario suites (JSON Lines with ``context`` and ground truth).

The per-scenario line ``{"id", "agents", "loaded_tokens", "manifest_tokens",
"baseline_tokens", "skills", "layout"}`` is a stable contract used by evaluation tools; keep
it stable. ``skills`` are the workflow skills loaded (``[]`` in layouts without them),
``layout`` the catalog's layout kinds joined by ``+``; ``baseline_tokens`` is what ``full``
loads (every agent, plus every workflow skill's ``SKILL.md``) and ``loaded_tokens`` counts the
loaded agents and skills (file tokens). Lines also carry the private ``_context_tokens`` and
``_full_context_tokens`` (what the client receives, ``Selection``; ``public`` drops them from
the contract line); reductions are counted on those when present, on file tokens otherwise
(``file_reduction`` always). A line is recalled
when every ``required_agents`` id is loaded and, where the suite gives them, every
``required_skills`` id.
"""

from __future__ import annotations

import glob
import statistics
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from agentload.context import Context
from agentload.selection.engine import Selector

LAYOUTS = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts"  # real trees, bundled for the demo


def expand_suites(given: Iterable[Path | str]) -> list[Path]:
    """Scenario files from what a user typed: a file as it is, a folder's ``*.jsonl``, a glob
    pattern (quoted, so the shell left it as is; ``**`` spans folders), each expansion sorted;
    first-seen order otherwise, duplicates dropped. Raises ``FileNotFoundError`` naming the first
    argument that matches no file."""
    out: dict[Path, None] = {}
    for item in given:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            what = "folder holds no *.jsonl" if path.is_dir() else "no such file" if not glob.has_magic(str(path)) \
                else "pattern matches no file"
            raise FileNotFoundError(f"{what}: {item}")
        out.update(dict.fromkeys(found))
    return list(out)


def read_scenarios(path: Path | str) -> Iterator[dict[str, Any]]:
    """Scenario objects of a JSONL file; blank lines are skipped, bad lines raise with their number."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
            if not isinstance(obj, dict) or not isinstance(obj.get("context"), dict):
                raise ValueError(f"{path}:{n}: a scenario needs a 'context' object")
            yield obj


def evaluate_one(selector: Selector, scenario: dict[str, Any], strategy: str = "selective") -> dict[str, Any]:
    """The contract line for one scenario, plus private ``_recall_ok`` when ground truth exists."""
    sel = selector.select(Context(**scenario["context"]), strategy)
    line: dict[str, Any] = {
        "id": scenario.get("id"),
        "agents": sel.agent_ids,
        "loaded_tokens": sel.loaded_tokens,
        "manifest_tokens": sel.manifest_tokens,
        "baseline_tokens": sel.baseline_tokens,
        "skills": sel.skill_ids,
        "layout": layout_name(selector),
    }
    line["_context_tokens"], line["_full_context_tokens"] = sel.context_tokens, sel.full_context_tokens
    required = scenario.get("required_agents")
    if isinstance(required, list):
        line["_recall_ok"] = set(required) <= set(sel.agent_ids)
        skills = scenario.get("required_skills")
        if isinstance(skills, list):
            line["_recall_ok"] = line["_recall_ok"] and set(skills) <= set(sel.skill_ids)
    return line


def suite_catalog(suite: Path | str, layouts: Path, default: Path) -> Path:
    """The catalog a suite was written for: the ``catalog`` field of its first line names a
    folder of ``layouts`` (any BMad tree, read by its own layout rules); otherwise ``default`` (the
    bundled catalog, for suites whose ``catalog`` is a module name such as ``bmm``)."""
    for scenario in read_scenarios(suite):
        name = scenario.get("catalog")
        if isinstance(name, str) and name and "/" not in name and (layouts / name).is_dir():
            return layouts / name
        break
    return default


def layout_name(selector: Selector) -> str:
    """The catalog's layout kinds, ``+``-joined in discovery order (``"unknown"`` when none)."""
    kinds = list(dict.fromkeys(lay.kind for lay in selector.catalog.layouts))
    return "+".join(kinds) or "unknown"


def reduction(line: dict[str, Any]) -> float:
    """1 - delivered / full delivered (file tokens for lines without delivered counts)."""
    if line.get("_full_context_tokens"):
        return 1.0 - float(line["_context_tokens"]) / float(line["_full_context_tokens"])
    return file_reduction(line)


def file_reduction(line: dict[str, Any]) -> float:
    """1 - (loaded + manifest file tokens) / baseline file tokens."""
    base = line["baseline_tokens"]
    return 1.0 - (line["loaded_tokens"] + line["manifest_tokens"]) / base if base else 0.0


def summarize(lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Recall, agents loaded and token reduction (delivered; manifest counted) over evaluated
    lines, and the median reduction on file tokens next to it."""
    rows = list(lines)
    if not rows:
        return {"scenarios": 0}
    reds = sorted(reduction(r) for r in rows)
    files = sorted(file_reduction(r) for r in rows)
    judged = [r["_recall_ok"] for r in rows if "_recall_ok" in r]
    return {
        "scenarios": len(rows),
        "recall": (sum(judged) / len(judged)) if judged else None,
        "missed": [r["id"] for r in rows if r.get("_recall_ok") is False],
        "mean_agents": round(statistics.mean(len(r["agents"]) for r in rows), 3),
        "median_reduction": round(statistics.median(reds), 4),
        "mean_reduction": round(statistics.mean(reds), 4),
        "p10_reduction": round(reds[int(0.1 * (len(reds) - 1))], 4),
        "median_file_reduction": round(statistics.median(files), 4),
        "baseline_tokens": rows[0]["baseline_tokens"],
    }


def public(line: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in line.items() if not k.startswith("_")}
