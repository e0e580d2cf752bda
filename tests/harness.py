"""Local servers for tests and benchmarks: uvicorn on a free port, the catalog published into a Redis.

Real processes on free loopback ports, owned by the caller (started with ``Popen``, never
daemonised), so they can be stopped and restarted by pid, and measurements run against the
same servers production runs. Nothing here is used when serving. The private Redis itself
(``RedisProcess``, ``free_port``) is product code, ``agentload.redis_server`` (``agentload
serve`` starts one); it is re-exported here so a test or benchmark imports its harness from
one place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import redis

from agentload.redis_server import RedisProcess, free_port

__all__ = ["RedisProcess", "free_port", "publish_real_catalog", "start_uvicorn", "stop_process", "wait_http"]


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
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=str(Path(__file__).parents[1]))
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
    from agentload.publish.refresh import refresh_catalog
    from agentload.publish.state import WorkerState
    from agentload.settings import get_settings

    _STATE = _STATE or WorkerState()
    settings = get_settings().model_copy(update={"redis_url": redis_url})
    client = redis.Redis.from_url(redis_url)
    try:
        result: dict[str, Any] = refresh_catalog(client, settings, _STATE, force=force)
        return result
    finally:
        client.close()
