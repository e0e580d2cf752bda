"""Idle connections against the API process (issue 14, fault 7), with a real low fd limit.

The API runs as deployed (``python -m agentload.api.serve``) with ``RLIMIT_NOFILE`` 256. More
connections than that open and never send a request: the server closes them after the idle
timeout, and normal requests are served again; the bare ``uvicorn`` command kept them open
forever and failed every request, ``/healthz`` too.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.harness import free_port, publish_real_catalog, stop_process, wait_http

FD_LIMIT = 256
SILENT = 300
IDLE_S = 1.0
REPO = Path(__file__).resolve().parents[2]


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.fixture
def api(redis_url: str, redis_client: redis.Redis, tmp_path: Path) -> Iterator[tuple[str, int]]:
    publish_real_catalog(redis_url)
    port = free_port()
    env = {**os.environ, "AGENTLOAD_REDIS_URL": redis_url, "AGENTLOAD_ENV": "test",
           "AGENTLOAD_API_TOKEN": "conn-test-token-0123456789", "AGENTLOAD_API_IDLE_TIMEOUT_S": str(IDLE_S),
           "AGENTLOAD_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
    proc = subprocess.Popen([sys.executable, "-m", "agentload.api.serve", "--port", str(port), "--log-level",
                             "warning"], env=env, cwd=str(REPO), preexec_fn=_low_fd_limit)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_process(proc)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_given_more_silent_connections_than_fds_when_they_idle_then_closed_and_requests_served(
    api: tuple[str, int],
) -> None:
    base, pid = api
    port = int(base.rsplit(":", 1)[1])
    silent: list[socket.socket] = []
    try:
        for _ in range(SILENT):  # the kernel completes the handshake even when the server cannot accept
            silent.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and open_fds(pid) > FD_LIMIT // 2:
            time.sleep(0.2)
        assert open_fds(pid) < FD_LIMIT // 2  # the silent ones were closed by the server
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/healthz").status_code == 200
            sel = http.get("/api/v1/agents/optimized-loading",
                           params={"track": "bmad-method", "field_type": "greenfield", "phase": 2})
            assert sel.status_code == 200
        closed = 0
        for s in silent[:50]:  # the server's side ended them: reading gives EOF
            s.settimeout(2)
            try:
                closed += s.recv(1) == b""
            except (ConnectionResetError, TimeoutError):
                closed += 0
        assert closed >= 40
    finally:
        for s in silent:
            s.close()
