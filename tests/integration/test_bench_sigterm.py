"""A benchmark stopped with SIGTERM stops the Redis it started.

A killed ``make bench`` loop or a CI timeout sends SIGTERM; before ``benchmarks/_common``
turned it into ``SystemExit``, the benchmark died without running its ``finally`` blocks and
its ``redis-server`` kept running. Both ways benchmarks start one are covered: a daemonised
server from ``scripts/redis.sh`` (found by its state folder) and a child process
(``RedisProcess``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

REPO = Path(__file__).resolve().parents[2]


def _redis_children(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [k for k in kids if k.name().startswith("redis-server")]


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.ConnectionError:
        return False


def _start(script: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, str(REPO / "benchmarks" / script)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_given_a_benchmark_on_a_daemonised_redis_when_sent_sigterm_then_its_redis_is_stopped(
        tmp_path: Path) -> None:
    proc = _start("cache_refresh.py", tmp_path)
    deadline = time.monotonic() + 60
    urls: list[Path] = []
    while not urls and time.monotonic() < deadline and proc.poll() is None:
        urls = list(tmp_path.glob("agentload-bench-redis-*/url"))
        time.sleep(0.1)
    if not urls:
        proc.kill()
        pytest.fail("the benchmark started no Redis within 60 s")
    url = urls[0].read_text().strip()
    assert _answers(url)

    code = _stop(proc)

    assert code == 128 + signal.SIGTERM
    assert not _answers(url)


def test_given_a_benchmark_with_a_child_redis_when_sent_sigterm_then_its_redis_is_stopped(
        tmp_path: Path) -> None:
    proc = _start("api_read_path.py", tmp_path)
    deadline = time.monotonic() + 60
    servers: list[psutil.Process] = []
    while not servers and time.monotonic() < deadline and proc.poll() is None:
        servers = _redis_children(proc)
        time.sleep(0.1)
    if not servers:
        proc.kill()
        pytest.fail("the benchmark started no Redis within 60 s")

    code = _stop(proc)

    assert code == 128 + signal.SIGTERM
    gone, alive = psutil.wait_procs(servers, timeout=10)
    assert alive == []
