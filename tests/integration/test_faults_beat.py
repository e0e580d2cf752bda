"""Fault: two ``celery beat`` processes started by mistake, with a real worker consuming.

Every periodic refresh is then sent twice per interval. What must hold: each catalog change
is loaded and published exactly once (the refresh lock serialises concurrent runs and the
stored fingerprints turn the duplicate into a no-op), nothing fails, the duplicate beat is
reported, and messages that wait longer than their interval (worker down) are dropped by
``expires`` instead of running in a burst later. ``test_beat.py`` covers the sending and the
reporting in depth; this test covers what the worker does with the doubled stream.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from faults import BUNDLED, PM, beat_args, redis_server, task_results, wait_ready, wait_until, worker_args

from agentload import keys
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from agentload.tasknames import Queue, TaskName

INTERVAL_S = 1.0
DUPLICATE = "DUPLICATE CELERY BEAT"
REFRESH = TaskName.REFRESH.value


def _edit(path: Path, marker: str) -> None:
    """Replace a file atomically (write + rename), the way a deploy or ``git checkout`` does."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(path.read_text() + f"\n# {marker}\n")
    os.replace(tmp, path)


def _kinds(results: list[dict[str, Any]]) -> dict[str, int]:
    out = {"published": 0, "unchanged": 0, "locked": 0, "retried": 0, "other": 0}
    for meta in results:
        res = meta.get("result") if meta["status"] == "SUCCESS" else None
        if meta["status"] == "RETRY":  # a transient Redis error on a loaded machine: retried, by design
            out["retried"] += 1
        elif not isinstance(res, dict):
            out["other"] += 1
        elif res.get("published"):
            out["published"] += 1
        elif res.get("skipped") == "locked":
            out["locked"] += 1
        elif res.get("changed") is False:
            out["unchanged"] += 1
        else:
            out["other"] += 1
    return out


def test_given_two_beats_when_a_worker_consumes_then_each_change_is_published_once_and_stale_ticks_expire(
    tmp_path: Path, spawn_celery: Any
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    env = {"AGENTLOAD_CATALOG_PATH": str(root), "AGENTLOAD_REFRESH_INTERVAL_S": str(INTERVAL_S),
           "AGENTLOAD_STATS_FLUSH_INTERVAL_S": "3600", "AGENTLOAD_METRICS_FLUSH_INTERVAL_S": "3600"}
    with redis_server(tmp_path / "redis") as server:
        r = server.client()
        refresh_catalog(r, Settings(env="test", redis_url=server.url, catalog_path=root), WorkerState(), force=True)
        worker = spawn_celery.start(worker_args("refresher", Queue.CATALOG.value, concurrency=2), server.url,
                                    "worker", **env)
        beat_a = spawn_celery.start(beat_args(tmp_path / "a-schedule"), server.url, "beat-a", **env)
        beat_b = spawn_celery.start(beat_args(tmp_path / "b-schedule"), server.url, "beat-b", **env)
        wait_ready(worker)
        wait_until(lambda: DUPLICATE in beat_b.log() or DUPLICATE in beat_a.log(), 15, 0.1, "duplicate reported")
        assert r.hlen(keys.BEAT_INSTANCES) == 2
        assert "WARNING" in (beat_a.log() + beat_b.log())

        # a few intervals of doubled ticks, with two catalog changes in between
        started = time.monotonic()
        wait_until(lambda: len(task_results(r, REFRESH)) >= 2, 10, 0.1, "first refreshes")
        for i in range(2):
            _edit(root / PM, f"change {i}")
            time.sleep(2 * INTERVAL_S)
        wait_until(lambda: r.zcard(keys.VERSIONS) == 3, 5, 0.1, "both changes published")
        elapsed = time.monotonic() - started
        # beat keeps ticking: read a moment when no refresh is mid-run (STARTED is not an outcome)
        snapshot: list[list[dict[str, Any]]] = []

        def settled() -> bool:
            snapshot.append(task_results(r, REFRESH))
            return all(m["status"] != "STARTED" for m in snapshot[-1])

        wait_until(settled, 10, 0.05, "no refresh mid-run")
        results = snapshot[-1]
        kinds = _kinds(results)
        others = [m for m in results if m["status"] not in ("SUCCESS", "RETRY")]
        assert kinds["published"] == 2 and kinds["other"] == 0, (kinds, others[:3])  # once per change, nothing failed
        loaded = [m for m in results if isinstance(m.get("result"), dict) and "load_ms" in m["result"]]
        assert len(loaded) == 2, [m["result"] for m in loaded]  # the expensive part ran once per change
        intervals = elapsed / INTERVAL_S
        print(f"two beats: {len(results)} refresh runs in {intervals:.1f} intervals: {kinds}")
        assert len(results) <= 2 * (intervals + 2), (len(results), intervals)  # two beats, no pile-up
        assert len(results) >= intervals - 1, (len(results), intervals)  # and it still runs every interval

        # worker down for several intervals: the doubled ticks queue up, then expire unrun
        spawn_celery.stop(worker)
        done_before = len(task_results(r, REFRESH))
        wait_until(lambda: r.llen(Queue.CATALOG.value) >= 6, 10, 0.1, "ticks queued while no worker runs")
        spawn_celery.stop(beat_a)
        spawn_celery.stop(beat_b)
        queued = r.llen(Queue.CATALOG.value)
        time.sleep(INTERVAL_S)  # the newest tick is now past its expiry as well
        late = spawn_celery.start(worker_args("late", Queue.CATALOG.value), server.url, "late-worker", **env)
        wait_ready(late)
        wait_until(lambda: r.llen(Queue.CATALOG.value) == 0, 10, 0.1, "queue drained")
        wait_until(lambda: len(task_results(r, REFRESH)) >= done_before + queued, 10, 0.1, "all ticks accounted")
        after = task_results(r, REFRESH)[done_before:]
        ran = [m for m in after if m["status"] == "SUCCESS"]
        expired = [m for m in after if m["status"] == "REVOKED"]
        assert not ran and len(expired) == queued, ([m["status"] for m in after], queued)
        assert late.log().count(f"Discarding revoked task: {REFRESH}[") == queued
        r.close()

