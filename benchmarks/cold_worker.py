"""A fresh worker process's first free-text selection: embedding the catalog vs the disk cache.

A new worker process (prefork child, one replaced by ``worker_max_memory_per_child``, a restart)
builds its text index on its first free-text task. This measures, each in fresh interpreters
started side by side in one run on the bundled catalog:

* ``no cache``: the passages are embedded (what every process paid before the cache);
* ``cache warm``: another process stored them (``agentload/jobs/vectors.py``);
* two processes embedding at once with OpenBLAS's default threads vs one thread per process
  (what ``workers/__init__.py`` sets).

Figures are the wall time of index build plus first selection inside each process (imports
and catalog load excluded). ``--rounds`` alternates the variants.

    .venv/bin/python benchmarks/cold_worker.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BUNDLED_CATALOG, table

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys, time, pathlib
from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.jobs import vectors
from agentload.selection.engine import Selector
from agentload.settings import Settings
settings = Settings(env="test", catalog_path=sys.argv[1], embedding_cache_dir=sys.argv[2],
                    embedding_cache_mb=int(sys.argv[3]))
catalog = load_catalog(pathlib.Path(settings.catalog_path))
vectors.install(settings)
started = time.perf_counter()
selector = Selector(catalog)
selector.select(Context(request="write the product requirements for a payments feature"))
print(time.perf_counter() - started)
"""
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run(folder: Path, cache_mb: int, threads: str | None, together: int = 1) -> list[float]:
    """Seconds per process; ``together`` processes started at once."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = str(REPO)
    if threads is not None:
        env.update({k: threads for k in THREAD_VARS})
    args = [sys.executable, "-c", PROBE, str(BUNDLED_CATALOG), str(folder), str(cache_mb)]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(together)]
    out = [p.communicate(timeout=600)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a probe process failed")
    return [float(o.strip().splitlines()[-1]) for o in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"no cache": [], "cache warm": [], "2 at once, BLAS default": [],
                                       "2 at once, 1 BLAS thread": []}
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        run(warm, 64, "1")  # fills the cache the "cache warm" variant reads
        for i in range(args.rounds):
            figures["no cache"] += run(Path(tmp) / f"off{i}", 0, "1")
            figures["cache warm"] += run(warm, 64, "1")
            figures["2 at once, BLAS default"] += run(Path(tmp) / "x", 0, None, together=2)
            figures["2 at once, 1 BLAS thread"] += run(Path(tmp) / "x", 0, "1", together=2)
    med = {k: statistics.median(v) for k, v in figures.items()}
    if args.json:
        print(json.dumps({"median_s": med, "runs_s": figures}))
        return
    print(table(["variant", "runs", "median s", "min s", "max s"],
                [[k, str(len(v)), f"{med[k]:.2f}", f"{min(v):.2f}", f"{max(v):.2f}"] for k, v in figures.items()]))
    print("\nfirst text selection of a fresh process, cache warm / no cache: "
          f"x{med['cache warm'] / med['no cache']:.3f}")
    print("two processes at once, 1 BLAS thread / default threads: "
          f"x{med['2 at once, 1 BLAS thread'] / med['2 at once, BLAS default']:.2f}")
    print(f"(machine: {os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
