"""Real ``celery beat`` processes: periodic messages reach Redis, a second beat is reported."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import redis

from agentload import keys
from agentload.tasknames import Queue, TaskName
from workers.beat_guard import HEARTBEAT_S, STALE_AFTER_S

DUPLICATE = "DUPLICATE CELERY BEAT"


def _beat_args(name: str) -> list[str]:
    # schedule db in the test's tmp dir (cwd is the repo root); no pidfile: two beats must coexist
    return ["-A", "workers.app", "beat", "-l", "info", "--max-interval", "1",
            "-s", f"{name}-schedule", "--pidfile", ""]  # fmt: skip


def _private_db(redis_url: str, db: int) -> str:
    """Same server, another database: the session worker (db 0) must not eat our messages."""
    return f"{redis_url.rsplit('/', 1)[0]}/{db}"


def _live_beats(client: redis.Redis, now: float) -> dict[str, float]:
    entries = client.hgetall(keys.BEAT_INSTANCES)
    return {k.decode(): float(v) for k, v in entries.items() if now - float(v) <= STALE_AFTER_S}


def wait_until(predicate: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _decode(raw: bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(raw)
    message["decoded_body"] = json.loads(base64.b64decode(message["body"]))
    return message


def test_beat_sends_refresh_and_reports_a_second_beat(redis_url: str, spawn_celery: Any, tmp_path: Any) -> None:
    url = _private_db(redis_url, 3)
    client = redis.Redis.from_url(url)
    client.flushdb()  # private db: nothing else lives here
    env = {
        "AGENTLOAD_REFRESH_INTERVAL_S": "1",
        "AGENTLOAD_STATS_FLUSH_INTERVAL_S": "3600",
        "AGENTLOAD_METRICS_FLUSH_INTERVAL_S": "3600",
    }
    queue = Queue.CATALOG.value

    first = spawn_celery.start(_beat_args(str(tmp_path / "a")), url, "beat-a", **env)
    assert wait_until(lambda: client.llen(queue) >= 2, 20), f"no refresh sent; log:\n{first.log_tail()}"
    grown_from = client.llen(queue)
    assert wait_until(lambda: client.llen(queue) > grown_from, 5), "beat stopped sending"

    message = _decode(client.lindex(queue, 0))
    assert message["headers"]["task"] == TaskName.REFRESH.value
    assert message["headers"]["expires"] is not None  # stale refreshes are dropped, not run late
    assert message["content-type"] == "application/json"
    assert len(_live_beats(client, time.time())) == 1
    assert DUPLICATE not in first.log()

    second = spawn_celery.start(_beat_args(str(tmp_path / "b")), url, "beat-b", **env)
    assert wait_until(lambda: DUPLICATE in second.log(), 20), f"second beat silent:\n{second.log_tail()}"
    assert len(_live_beats(client, time.time())) == 2
    # the first beat notices the newcomer on its next heartbeat
    assert wait_until(lambda: DUPLICATE in first.log(), 2 * HEARTBEAT_S + 2), first.log_tail()


def test_stopped_beat_unregisters(redis_url: str, spawn_celery: Any, tmp_path: Any) -> None:
    url = _private_db(redis_url, 4)
    client = redis.Redis.from_url(url)
    client.flushdb()
    beat = spawn_celery.start(_beat_args(str(tmp_path / "c")), url, "beat-c")
    assert wait_until(lambda: client.hlen(keys.BEAT_INSTANCES) == 1, 20), beat.log_tail()

    spawn_celery.stop(beat)

    assert client.hlen(keys.BEAT_INSTANCES) == 0
