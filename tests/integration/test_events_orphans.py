"""Batches of served-selection events left by a flush that died (issue 14, fault 6).

A flush takes a batch into its own Redis key, writes it to SQL with its id, then deletes the
key. A flush killed in between leaves the key: the next flush after ``orphan_after_s``
drops it if the batch's id is in ``flushed_batches`` (it was committed) and gives it back
otherwise, so every event lands in SQL exactly once. The first tests age keys by setting
their TTL; the last kills a real worker process while its flush waits on a locked table.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
import redis
from faults import client_app, wait_ready, wait_until, worker_args

from agentload import keys
from agentload.jobs.events import TAKE, TAKEN_TTL_S, drain_events, event_rows, write_rows
from models import AgentLoadingMetric, TokenOptimization, migrate, session_scope
from tests import pg
from tests.harness import RedisProcess

ORPHAN_S = 60.0


def event(i: int) -> bytes:
    return orjson.dumps({"recorded_at": "2026-12-01T00:00:00+00:00", "source": "api", "context_hash": f"k{i}",
                         "strategy": "selective", "agents": ["pm"], "agents_count": 1, "loaded_tokens": 500,
                         "manifest_tokens": 100, "baseline_tokens": 5000, "optimized_tokens": 600,
                         "reduction": 0.88, "context_tokens": 700, "full_context_tokens": 5400,
                         "cache_hit": True, "latency_ms": 1.0})


def counts(db: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    with session_scope(db) as s:
        return (int(s.scalar(select(func.count()).select_from(AgentLoadingMetric)) or 0),
                int(s.scalar(select(func.count()).select_from(TokenOptimization)) or 0))


def take_batch(r: redis.Redis, batch_id: str, n: int, age_s: float) -> list[bytes]:
    """What a flush does before writing: move ``n`` events to its key; then age the key."""
    key = keys.events_flush_key(batch_id)
    items: list[bytes] = r.register_script(TAKE)(keys=[keys.SELECTION_EVENTS, key], args=[n, TAKEN_TTL_S])
    r.expire(key, int(TAKEN_TTL_S - age_s))
    return items


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(url)
    return url


def test_given_a_batch_committed_before_its_flush_died_when_swept_then_dropped_not_written_twice(
    redis_url: str, redis_client: redis.Redis, db: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    r.rpush(keys.SELECTION_EVENTS, *[event(i) for i in range(30)])
    items = take_batch(r, "deadflush-0", 20, age_s=ORPHAN_S + 5)
    rows = [event_rows(x) for x in items]
    write_rows(db, [a for a, _ in rows], [t for _, t in rows], "deadflush-0")  # committed, key not deleted
    out = drain_events(r, db, orphan_after_s=ORPHAN_S)
    assert out["orphans"] == {"dropped": 1, "given_back": 0}
    assert counts(db) == (30, 30) and out["events"] == 10  # the 10 never taken, once
    assert not list(r.scan_iter(match=keys.events_flush_key("*")))


def test_given_a_batch_taken_by_a_flush_that_died_before_writing_when_swept_then_written_once(
    redis_url: str, redis_client: redis.Redis, db: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    r.rpush(keys.SELECTION_EVENTS, *[event(i) for i in range(30)])
    take_batch(r, "deadflush-0", 20, age_s=ORPHAN_S + 5)
    young = take_batch(r, "liveflush-0", 5, age_s=1)  # a flush still running: left alone
    out = drain_events(r, db, orphan_after_s=ORPHAN_S)
    assert out["orphans"] == {"dropped": 0, "given_back": 1}
    assert counts(db) == (25, 25) and len(young) == 5
    assert [k.decode() for k in r.scan_iter(match=keys.events_flush_key("*"))] == [
        keys.events_flush_key("liveflush-0")]
    again = drain_events(r, db, orphan_after_s=ORPHAN_S)
    assert again["events"] == 0 and counts(db) == (25, 25)


@pytest.mark.skipif(not pg.postgres_available(), reason="PostgreSQL binaries not installed")
def test_given_worker_killed_while_its_flush_waits_on_a_locked_table_when_flushing_later_then_every_event_once(
    tmp_path: Path, spawn_celery: Any
) -> None:
    """The reported fault: the metrics table locked, 200 events in a flushing batch, the
    worker SIGKILLed. Before: none was ever written. Now the next flush after the orphan age
    gives the batch back and writes it, once."""
    import psycopg

    url, destroy = pg.start_postgres(tmp_path / "pg")
    server = RedisProcess().start()  # private: the session's worker also consumes `metrics`
    redis_url = server.url
    try:
        migrate.upgrade(url)
        r = redis.Redis.from_url(redis_url)
        r.rpush(keys.SELECTION_EVENTS, *[event(i) for i in range(200)])
        limits = {"AGENTLOAD_METRICS_TASK_SOFT_TIME_LIMIT_S": "20", "AGENTLOAD_METRICS_TASK_TIME_LIMIT_S": "2"}
        worker = spawn_celery.start(worker_args("orphans", "metrics"), redis_url, "orphans",
                                    AGENTLOAD_DATABASE_URL=url, **limits)
        app = client_app(redis_url)
        wait_ready(worker)
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as locker:
            locker.execute("LOCK TABLE token_optimization IN ACCESS EXCLUSIVE MODE")
            app.send_task("agentload.flush_selection_events")
            wait_until(lambda: list(r.scan_iter(match=keys.events_flush_key("*"))), 20, 0.05,
                       "a flush holding its batch")
            children = psutil.Process(worker.pid).children(recursive=True)
            for child in children:
                child.send_signal(signal.SIGKILL)
            psutil.wait_procs(children, timeout=10)
            locker.rollback()
        assert r.llen(keys.SELECTION_EVENTS) == 0  # the 200 sit in the dead flush's key
        time.sleep(4.5)  # orphan age: twice the flush's hard time limit (2 s)
        swept = [app.send_task("agentload.flush_selection_events").get(timeout=30) for _ in range(2)]
        # the redelivered flush of the killed child may be the one that sweeps: one of them did
        assert sum(s["orphans"]["given_back"] for s in swept) <= 1 and counts(url) == (200, 200), swept
        assert not list(r.scan_iter(match=keys.events_flush_key("*")))  # nothing left behind
        assert counts(url) == (200, 200) and not list(r.scan_iter(match=keys.events_flush_key("*")))
        app.close()
        r.close()
    finally:
        server.stop()
        destroy()
