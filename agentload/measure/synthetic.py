"""Synthetic catalogs for scale benchmarks, generated from a real catalog's own files.

Each synthetic agent is a copy of a real agent definition with a new id, title and menu
names (so every agent is distinct for retrieval), and each real path file is copied with
its workflows re-pointed at the synthetic agents, so structured selection scales too.

``synthetic_suites`` derives the ground truth of such a catalog from the real catalog's own
suites, mechanically: a structured scenario asked on a path copy requires the copy's owner
(``_synthetic_id``), and a free-text request is served by its required agents or by any of
their copies, which share their persona and work (``original_of``).
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from agentload.catalog import PathFile, load_catalog


def make_synthetic_catalog(source: Path, dest: Path, n_agents: int = 1000) -> Path:
    """Write a catalog of ``n_agents`` agents under ``dest`` (replaced if present)."""
    real = load_catalog(source)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    agents = sorted(real.agents.values(), key=lambda a: a.id)
    module_dir = dest / Path(agents[0].path).parent
    for i in range(n_agents - len(agents)):
        base = agents[i % len(agents)]
        data = yaml.safe_load(base.text)
        body = data["agent"]
        body["metadata"]["title"] = f"{body['metadata'].get('title', base.id)} {i:04d}"
        for item in body.get("menu") or []:
            if isinstance(item, dict) and isinstance(item.get("trigger"), str):
                item["trigger"] = f"{item['trigger']}-{i:04d}"
        new_id = f"{base.id}-{i:04d}"
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        (module_dir / f"{new_id}.agent.yaml").write_text(text)
    _copy_paths(real.paths, dest, [a.id for a in agents], n_agents)
    return dest


def _copy_paths(paths: list[PathFile], dest: Path, real_ids: list[str], n_agents: int) -> None:
    """One re-pointed copy of every path file per 100 synthetic agents (new track names)."""
    n_real = len(real_ids)
    for pf in paths:
        src = dest / pf.file
        raw = yaml.safe_load(src.read_text())
        for k in range(max(0, (n_agents - n_real) // 100)):
            copy = dict(raw)
            copy["track"] = f"{raw.get('track', 'track')}-s{k:03d}"
            copy["method_name"] = f"{raw.get('method_name') or ''} s{k:03d}".strip()  # a track alias too
            copy["phases"] = []
            for phase in raw.get("phases") or []:
                ph = dict(phase)
                ph["workflows"] = []
                for w in phase.get("workflows") or []:
                    wf = dict(w)
                    if wf.get("agent"):
                        wf["agent"] = _synthetic_id(wf["agent"], k, real_ids, n_agents)
                    ph["workflows"].append(wf)
                copy["phases"].append(ph)
            out = src.with_name(f"{src.stem}-s{k:03d}.yaml")
            out.write_text(yaml.safe_dump(copy, sort_keys=False, allow_unicode=True))


def _synthetic_id(agent: str, k: int, real_ids: list[str], n_agents: int) -> str:
    """The k-th synthetic copy of ``agent`` (copy i is based on real agent i mod n_real)."""
    if agent not in real_ids:
        return agent
    i = real_ids.index(agent) + k * len(real_ids)
    return f"{agent}-{i:04d}" if i < n_agents - len(real_ids) else agent


def original_of(agent_id: str, real_ids: Collection[str]) -> str:
    """The real agent a synthetic one copies (``<id>-NNNN``), or the id itself."""
    base, _, number = agent_id.rpartition("-")
    return base if len(number) == 4 and number.isdigit() and base in real_ids else agent_id


def synthetic_suites(source: Path, n_agents: int, structured: list[dict[str, Any]], requests: list[dict[str, Any]],
                     copies: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Ground-truth suites for ``make_synthetic_catalog(source, dest, n_agents)``.

    ``structured``: every scenario of a real structured suite (``context.track`` names a path
    file's track), as is and asked on ``copies`` of its path's copies (first, middle, last),
    where the copy's owner of the same workflow is required (line ``match``: ``"exact"``).
    ``requests``: the real free-text suite, where a required agent is also served by any of its
    copies (``match``: ``"original"``; ``recalled`` compares them so).
    """
    real_ids = sorted(load_catalog(source).agents)
    n_copies = max(0, (n_agents - len(real_ids)) // 100)
    ks = sorted({0, n_copies // 2, n_copies - 1}) if n_copies else []
    out: dict[str, list[dict[str, Any]]] = {"structured": [], "requests": []}
    for sc in structured:
        out["structured"].append({**sc, "match": "exact"})
        for k in ks[:copies]:
            ctx = dict(sc["context"])
            if not ctx.get("track"):
                continue
            ctx["track"] = f"{ctx['track']}-s{k:03d}"
            required = sorted({_synthetic_id(a, k, real_ids, n_agents) for a in sc.get("required_agents", [])})
            out["structured"].append({**sc, "id": f"{sc.get('id')}-s{k:03d}", "context": ctx,
                                      "required_agents": required, "match": "exact"})
    out["requests"] = [{**sc, "match": "original"} for sc in requests]
    return out


def recalled(scenario: dict[str, Any], selected: Collection[str], real_ids: Collection[str]) -> bool:
    """Whether ``selected`` serves the scenario's required agents (see ``synthetic_suites``)."""
    required = set(scenario.get("required_agents") or [])
    if scenario.get("match") == "original":
        return required <= {original_of(a, real_ids) for a in selected}
    return required <= set(selected)
