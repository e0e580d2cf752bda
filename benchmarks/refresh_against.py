"""One changed agent served, this checkout's worker against another checkout's, alternated in one run.

The machine is shared and noisy, so a figure measured an hour ago says little about a change:
both workers refresh the same synthetic catalog (``agentload.measure.synthetic``), each
against its own throw-away Redis, and every edit is refreshed by both, in alternating order
(this checkout first on even edits, the other first on odd ones). Printed per worker: the
median time until the live version serves the edit (``refresh_scale.served_after``), the
refresh's own duration, a warm full rebuild, peak RSS, and Redis ``used_memory`` after the
first publish and its median growth per one-change version (the replaced version's keys are
kept for ``version_ttl_s``, 120 s here, longer than the run); then this checkout's medians as
ratios of the other's.

    PYTHONPATH=. .venv/bin/python benchmarks/refresh_against.py OTHER_CHECKOUT [--agents 10000] [--changes 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from _common import BUNDLED_CATALOG, table
from cache_refresh import edit_one_agent, redis_server
from refresh_scale import Worker, served_after

from agentload.measure.synthetic import make_synthetic_catalog


def _memory(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def run(other: Path, agents: int, changes: int) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="agentload-against-") as tmp, \
            redis_server(None) as url_new, redis_server(None) as url_old:
        root = make_synthetic_catalog(BUNDLED_CATALOG, Path(tmp) / "catalog", agents)
        sides = {"this checkout": (Worker(url_new, root), redis.Redis.from_url(url_new)),
                 "other checkout": (Worker(url_old, root, other), redis.Redis.from_url(url_old))}
        out: dict[str, dict[str, Any]] = {name: {"served": [], "refresh": [], "grown": [], "results": []}
                                          for name in sides}
        try:
            for name, (worker, r) in sides.items():
                out[name]["cold_s"] = worker.run("force")["seconds"]
                out[name]["memory_one"] = _memory(r)
                out[name]["rebuild_s"] = worker.run("force")["seconds"]
                worker.run("refresh")
            for n in range(changes):
                path = edit_one_agent(root, n)
                agent_id = Path(path).name.removesuffix(".agent.yaml")
                order = list(sides) if n % 2 == 0 else list(reversed(sides))
                for name in order:
                    worker, r = sides[name]
                    before = _memory(r)
                    started = time.perf_counter()
                    worker.send("refresh")
                    out[name]["served"].append(served_after(r, agent_id, f"(edit {n})", started))
                    result = worker.result()
                    out[name]["refresh"].append(result["seconds"])
                    out[name]["results"].append(result)
                    out[name]["grown"].append(_memory(r) - before)
                    out[name]["rss_mib"] = result["peak_rss_mib"]
                print(f"edit {n}: " + ", ".join(f"{k} {v['served'][-1]:.2f} s" for k, v in out.items()), flush=True)
        finally:
            for worker, _ in sides.values():
                worker.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=Path, help="another checkout of agentload (its code runs the other worker)")
    ap.add_argument("--agents", type=int, default=10000)
    ap.add_argument("--changes", type=int, default=8)
    args = ap.parse_args()
    out = run(args.other.resolve(), args.agents, args.changes)
    med = {name: {k: statistics.median(v[k]) for k in ("served", "refresh", "grown")} for name, v in out.items()}
    rows = [[name, f"{med[name]['served']:.2f}", f"{min(v['served']):.2f}", f"{med[name]['refresh']:.2f}",
             f"{v['rebuild_s']:.2f}", f"{v['rss_mib']:.0f}", f"{v['memory_one'] / 1e6:.1f}",
             f"{med[name]['grown'] / 1e6:.1f}"] for name, v in out.items()]
    print(table(["worker", "served (s, median)", "fastest", "refresh (s)", "full rebuild (s)", "peak RSS (MiB)",
                 "Redis MB, one version", "MB per one-change version"], rows))
    stages = ("scan_ms", "load_ms", "selector_ms", "build_ms", "write_ms", "switch_ms")
    print("\none change, median stages (ms): " + "; ".join(
        f"{name}: " + ", ".join(f"{st.removesuffix('_ms')} {statistics.median(x.get(st, 0) for x in v['results']):.0f}"
                                for st in stages) for name, v in out.items()))
    new, old = med["this checkout"], med["other checkout"]
    print(f"\n{args.agents:,} agents, {args.changes} edits alternated: served x{new['served'] / old['served']:.2f}, "
          f"refresh x{new['refresh'] / old['refresh']:.2f}, Redis growth per version "
          f"x{new['grown'] / old['grown']:.2f} of the other checkout")


if __name__ == "__main__":
    main()
