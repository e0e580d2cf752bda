"""Worker processes use one BLAS thread each unless the operator says otherwise (``workers/__init__``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = "import workers.app, os; print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"


def run_probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, "PYTHONPATH": str(REPO), **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def test_given_no_thread_setting_when_the_worker_app_loads_then_one_blas_thread() -> None:
    assert run_probe() == "1 1"


def test_given_an_operator_setting_when_the_worker_app_loads_then_it_is_kept() -> None:
    assert run_probe(OPENBLAS_NUM_THREADS="4") == "4 1"
