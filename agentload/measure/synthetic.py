"""Synthetic catalogs for scale benchmarks, generated from a real catalog's own files.

Each synthetic agent is a copy of a real agent definition with a new id, title and menu
names (so every agent is distinct for retrieval), and each real path file is copied with
its workflows re-pointed at the synthetic agents, so structured selection scales too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
