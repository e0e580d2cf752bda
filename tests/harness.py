"""Local processes for benchmarks, the journey and tests: a private Redis, uvicorn servers.

Real processes on free loopback ports, owned by the caller (started with ``Popen``, never
daemonised), so they can be stopped and restarted by pid: a test stops Redis mid-request to
see the 503 and restarts it on the same port to see recovery. Nothing here is used when
serving; it exists so measurements run against the same servers production runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    """``redis-server`` without persistence on a fixed free port; ``stop``/``start`` keep the port."""

    def __init__(self, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> RedisProcess:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.ConnectionError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def wait_http(url: str, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until ``url`` answers (any status); fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def start_uvicorn(app: str, port: int, env: Mapping[str, str] | None = None, *, app_dir: str | None = None,
                  factory: bool = False, ready_path: str = "/healthz") -> subprocess.Popen[bytes]:
    """``python -m uvicorn <app>`` (1 worker, uvloop + httptools, no access log) on ``port``."""
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "warning"]
    if factory:
        args.append("--factory")
    if app_dir:
        args += ["--app-dir", app_dir]
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=str(Path(__file__).parents[2]))
    try:
        wait_http(f"http://127.0.0.1:{port}{ready_path}", proc=proc)
    except Exception:
        stop_process(proc)
        raise
    return proc


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float = 10.0) -> None:
    """Terminate ``proc`` (SIGTERM, then SIGKILL) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


_STATE: Any = None  # one WorkerState per process: its parse cache makes republishing cheap


def publish_real_catalog(redis_url: str, *, force: bool = False) -> dict[str, Any]:
    """Publish the configured catalog into ``redis_url`` exactly as the preload job does
    (``publish_catalog`` via the refresh, with file fingerprints, so workers accept the
    version as matching their files instead of republishing it). Without ``force`` nothing
    is published when Redis already holds the current files."""
    global _STATE
    from agentload.cache.refresh import refresh_catalog
    from agentload.cache.state import WorkerState
    from agentload.settings import get_settings

    _STATE = _STATE or WorkerState()
    settings = get_settings().model_copy(update={"redis_url": redis_url})
    client = redis.Redis.from_url(redis_url)
    try:
        result: dict[str, Any] = refresh_catalog(client, settings, _STATE, force=force)
        return result
    finally:
        client.close()
