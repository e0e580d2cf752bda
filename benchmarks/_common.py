"""Shared helpers for the selection benchmarks: paths, suites, percentiles and plain tables.

Benchmarks read the scenario suites from ``../shared/scenarios`` (next to the repo); product
code never does. Importing this module also makes SIGTERM unwind a benchmark as Ctrl-C does
(``SystemExit``), so a killed ``make bench`` loop or a CI timeout still runs the ``finally``
blocks that stop the Redis, API and worker processes the benchmark started.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# numpy's BLAS as the workers run it (``workers/__init__.py``): one thread per process. Several
# BLAS threads on a busy 2-core machine make each product wait for a descheduled thread
# (embedding one request under load: 22 ms median with one thread, 114 ms with two); set before
# any benchmark imports numpy, an operator's own value wins
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere: `python benchmarks/x.py`
    sys.path.insert(0, str(REPO_ROOT))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # an embedding program's own handler wins
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

BUNDLED_CATALOG = REPO_ROOT / "data" / "bmad-method-v6"
LAYOUTS_DIR = REPO_ROOT / "data" / "bmad-layouts"
# the bundled copy of the scenario suites; ../shared/scenarios when a newer set is laid beside the repo
_SHARED_SCENARIOS = (REPO_ROOT / ".." / "shared" / "scenarios").resolve()
SCENARIOS_DIR = _SHARED_SCENARIOS if _SHARED_SCENARIOS.is_dir() else REPO_ROOT / "data" / "scenarios"


def suite_files(directory: Path = SCENARIOS_DIR) -> list[Path]:
    """Every ``*.jsonl`` suite in ``directory``; exits with a clear message when there is none."""
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if not files:
        sys.exit(f"no scenario suites (*.jsonl) found in {directory}; expected ../shared/scenarios next to the repo")
    return files


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def fmt_us(ns: float) -> str:
    """Nanoseconds as a human figure (µs below 1 ms, ms above)."""
    if ns >= 1_000_000:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} µs"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A fixed-width text table (first column left-aligned, the rest right-aligned)."""
    body = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in body)])


def rss_bytes() -> int | None:
    """Resident set size of this process now (psutil), or None when unavailable."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a declared dependency
        return None
    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Peak RSS of this process so far (getrusage; Linux reports KiB)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def mib(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"
