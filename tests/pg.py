"""Throwaway PostgreSQL for tests: a thin wrapper around ``scripts/pg.sh``.

Used by pytest fixtures (module or session scope)::

    url, stop = start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        yield url
    finally:
        stop()

The server binaries are found by the script (PATH, ``/usr/lib/postgresql/*/bin`` or
``PG_BIN``); ``postgres_available()`` lets fixtures skip with a clear reason when they are absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_SCRIPT = REPO_ROOT / "scripts" / "pg.sh"
_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_available() -> bool:
    """True when ``initdb`` and ``pg_ctl`` can be found the way ``scripts/pg.sh`` looks for them."""
    pg_bin = os.environ.get("PG_BIN")
    if pg_bin:
        return all(os.access(Path(pg_bin) / name, os.X_OK) for name in ("initdb", "pg_ctl"))
    if shutil.which("pg_ctl") and shutil.which("initdb"):
        return True
    return any((Path(d) / "pg_ctl").exists() and (Path(d) / "initdb").exists() for d in _BIN_DIRS)


def start_postgres(tmpdir: str | os.PathLike[str], timeout: float = 120.0) -> tuple[str, Callable[[], None]]:
    """Start a cluster in ``tmpdir``; return its ``postgresql://`` URL and an idempotent stop.

    The port comes from ``free_port()`` (passed as ``PG_PORT``) unless the environment fixes
    one; a lost race for the port is retried with a new one. Raises ``RuntimeError`` with the
    script's stderr if the cluster cannot start.
    """
    state_dir = Path(tmpdir)
    fixed_port = os.environ.get("PG_PORT")
    proc: subprocess.CompletedProcess[str] | None = None
    for _attempt in range(1 if fixed_port else 3):
        env = {**os.environ, "PG_PORT": fixed_port or str(free_port())}
        proc = subprocess.run(
            ["bash", str(PG_SCRIPT), "start", str(state_dir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            break
    assert proc is not None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"scripts/pg.sh start failed ({proc.returncode}): {proc.stderr.strip()}")
    url = lines[-1].strip()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        subprocess.run(
            ["bash", str(PG_SCRIPT), "stop", str(state_dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return url, stop
