"""Refresh cost: nothing changed, one agent file changed, full rebuild (force).

Runs against a real Redis (``scripts/redis.sh`` in a temp dir, or ``--redis-url``) on two
catalogs, both generated in a temp dir so the repository is never touched:

* ``real``: a copy of ``data/bmad-method-v6`` (10 agents);
* ``synthetic``: the same tree grown to ``--agents`` agents (default 1000). Each new agent
  is a copy of a real one with a new id, title and a menu entry of its own; every new agent
  also owns one new workflow appended to one phase of one path file (round robin), so the
  path files reference all of them (1 in 25 is ``required``).

Each scenario is timed ``--repeat`` times (median reported). "one agent changed" edits a
description in one agent file and keeps the worker's state (parse cache, last build), as a
long-running worker would; "full rebuild" is ``force=True`` in that same worker: every file
re-hashed, every selection and manifest count recomputed, every key republished, but the
parses of byte-identical files reused (``agentload.publish.refresh``). ``cold publish`` is the
first publication from a fresh process state (every file parsed).

    .venv/bin/python benchmarks/cache_refresh.py [--agents 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (SIGTERM runs this script's cleanup: see _common)
import redis
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentload import keys  # noqa: E402
from agentload.catalog import catalog_files  # noqa: E402
from agentload.publish.refresh import refresh_catalog  # noqa: E402
from agentload.publish.state import WorkerState  # noqa: E402
from agentload.settings import Settings  # noqa: E402

SOURCE = REPO / "data" / "bmad-method-v6"
PATHS_GLOB = "workflow-status/paths/*.yaml"


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """A throw-away redis-server (scripts/redis.sh) unless a URL is given."""
    if url:
        yield url
        return
    state = Path(tempfile.mkdtemp(prefix="agentload-bench-redis-"))
    out = subprocess.run(["bash", str(REPO / "scripts" / "redis.sh"), "start", str(state)],
                         capture_output=True, text=True, check=True)
    try:
        yield out.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "redis.sh"), "stop", str(state)], check=False)


def _menu_entry(new_id: str, i: int) -> str:
    return (f'    - trigger: S{i} or fuzzy match on wf-{new_id}\n'
            f'      action: "#wf-{new_id}"\n'
            f'      description: "[S{i}] Run the {new_id} workflow"\n\n')


def make_synthetic(dst: Path, n_agents: int) -> list[str]:
    """Copy the real catalog to ``dst`` and grow it to ``n_agents`` agents; returns new ids."""
    shutil.copytree(SOURCE, dst)
    agents = sorted(p for p in catalog_files(dst) if p.endswith(".agent.yaml"))
    path_files = sorted(p for p in catalog_files(dst) if "/workflow-status/paths/" in p)
    docs = {p: yaml.safe_load((dst / p).read_text()) for p in path_files}
    new_ids: list[str] = []
    for i in range(max(0, n_agents - len(agents))):
        base = dst / agents[i % len(agents)]
        new_id = f"{base.name[: -len('.agent.yaml')]}-s{i:04d}"
        out: list[str] = []
        for line in base.read_text().splitlines(keepends=True):
            if line.strip().startswith("title:"):
                body = line.rstrip("\n")
                quote = body[-1] if body[-1] in "'\"" else ""
                line = f"{body[: len(body) - len(quote)]} {i}{quote}\n"
            out.append(line)
            if line.rstrip() == "  menu:":
                out.append(_menu_entry(new_id, i))
        (base.parent / f"{new_id}.agent.yaml").write_text("".join(out))
        doc = docs[path_files[i % len(path_files)]]
        phase = doc["phases"][(i // len(path_files)) % len(doc["phases"])]
        entry: dict[str, Any] = {"id": f"wf-{new_id}", "agent": new_id,
                                 "command": f"/bmad:bmm:workflows:wf-{new_id}"}
        entry["required" if i % 25 == 0 else "optional"] = True
        phase["workflows"].append(entry)
        new_ids.append(new_id)
    for p, doc in docs.items():
        (dst / p).write_text(yaml.safe_dump(doc, sort_keys=False))
    return new_ids


def edit_one_agent(root: Path, n: int) -> str:
    """Change the persona role of one agent (a description edit); returns its path."""
    path = sorted(root.rglob("*.agent.yaml"))[0]
    text = path.read_text()
    marker = "    role: "
    i = text.index(marker) + len(marker)
    path.write_text(f"{text[:i]}(edit {n}) {text[i:]}")
    return str(path.relative_to(root))


def _timed(fn: Any) -> tuple[float, dict[str, Any]]:  # noqa: ANN401
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def bench_catalog(url: str, root: Path, repeat: int, label: str) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    for key in r.scan_iter(match=f"{keys.PREFIX}:*", count=1000):
        r.delete(key)
    settings = Settings(redis_url=url, catalog_path=root, version_ttl_s=60)
    state = WorkerState()
    cold_ms, cold = _timed(lambda: refresh_catalog(r, settings, state))
    rows: dict[str, list[float]] = {"no change": [], "one agent changed": [], "full rebuild": []}
    details: dict[str, dict[str, Any]] = {}
    for n in range(repeat):
        ms, res = _timed(lambda: refresh_catalog(r, settings, state))
        assert res.get("changed") is False, res
        rows["no change"].append(ms)
        edit_one_agent(root, n)
        ms, res = _timed(lambda: refresh_catalog(r, settings, state))
        assert res.get("published"), res
        rows["one agent changed"].append(ms)
        details["one agent changed"] = res
        ms, res = _timed(lambda: refresh_catalog(r, settings, state, force=True))
        assert res.get("published"), res
        rows["full rebuild"].append(ms)
        details["full rebuild"] = res
    r.close()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n== {label}: {cold['agents']} agents, {cold['selections']} selections, "
          f"{cold['bytes'] / 1e6:.1f} MB per version")
    print(f"  cold publish (fresh process)  {cold_ms:9.1f} ms   (load {cold['load_ms']:.0f} ms, "
          f"selector {cold['selector_ms']:.0f} ms, selections+selector {cold['build_ms']:.0f} ms, "
          f"write+switch {cold['total_ms']:.0f} ms)")
    for name, value in med.items():
        extra = ""
        if name in details:
            d = details[name]
            extra = (f"(parsed {d['parsed']} files, reused {d['reused_parses']}, load {d['load_ms']:.0f} ms, selector "
                     f"{d['selector_ms']:.0f} ms, selections+selector {d['build_ms']:.0f} ms, "
                     f"rebased selections {d['reused_selections']}, values reused {d['reused_values']}, "
                     f"write {d['write_ms']:.0f} ms, switch {d['switch_ms']:.0f} ms)")
        print(f"  {name:<29} {value:9.1f} ms   {extra}")
    print(f"  ratio one-change / full rebuild: {med['one agent changed'] / med['full rebuild']:.2f}; "
          f"no-change / full rebuild: {med['no change'] / med['full rebuild']:.4f}")
    return {"label": label, "cold_ms": cold_ms, **med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentload-bench-") as tmp, redis_server(args.redis_url) as url:
        real = Path(tmp) / "real"
        shutil.copytree(SOURCE, real)
        results = [bench_catalog(url, real, args.repeat, "real catalog")]
        synthetic = Path(tmp) / "synthetic"
        make_synthetic(synthetic, args.agents)
        results.append(bench_catalog(url, synthetic, args.repeat, f"synthetic catalog ({args.agents} agents)"))
    print("\ntargets: no-change refresh < 50 ms, full rebuild of 1000 agents < 1 s")
    for res in results:
        print(f"  {res['label']:<36} no change {res['no change']:7.1f} ms | "
              f"full rebuild {res['full rebuild']:8.1f} ms")


if __name__ == "__main__":
    main()
