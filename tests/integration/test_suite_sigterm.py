"""A test run stopped with SIGTERM stops the servers its fixtures started.

A CI timeout or ``kill`` sends SIGTERM to pytest. Python's default ends the process at once, so
the session fixtures' teardown never ran and the daemonised ``redis-server`` and PostgreSQL
cluster they started kept running (and their ports taken). ``tests/conftest.py`` now turns
SIGTERM into the same interruption as Ctrl-C, after which pytest tears the fixtures down.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import pg

REPO = Path(__file__).resolve().parents[2]
INNER = '''
import time
from pathlib import Path


def test_holds_the_servers(redis_url: str, postgres_url: str) -> None:
    Path({out!r}).write_text(redis_url + "\\n" + postgres_url)
    time.sleep(300)
'''


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not pg.postgres_available(), reason="PostgreSQL binaries (initdb/pg_ctl) not found")
def test_given_a_run_holding_redis_and_postgres_when_sent_sigterm_then_both_servers_are_stopped(
        tmp_path: Path) -> None:
    out = tmp_path / "urls"
    inner = tmp_path / "test_inner.py"
    inner.write_text(INNER.format(out=str(out)))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                             "--basetemp", str(tmp_path / "basetemp"), str(inner)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert out.exists(), "the inner run never got its servers"
        urls = out.read_text().splitlines()
        assert all(_listening(u) for u in urls)
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert proc.returncode != 0, log
    assert [u for u in urls if _listening(u)] == [], log
