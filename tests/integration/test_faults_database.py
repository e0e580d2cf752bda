"""Fault: the database (PostgreSQL) stops while traffic is served and metrics are flushed.

A private PostgreSQL cluster (``tests/pg.py``) that this test stops and starts again in place,
a private Redis, the API served by uvicorn in a thread, and a real worker on the ``metrics``
queue running the flush tasks with their production retry policy. The request path must not
notice; the flushes fail, keep every event and counter in Redis, retry, and land once the
database is back, exactly once.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from celery.result import AsyncResult
from faults import (
    BUNDLED,
    HOT,
    SEL,
    TOKEN,
    PostgresServer,
    client_app,
    redis_server,
    serve,
    sql_totals,
    wait_ready,
    wait_until,
    worker_args,
)

from agentload import keys
from agentload.api.app import create_app
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.settings import Settings
from agentload.tasknames import TaskName
from models import migrate
from tests import pg

pytestmark = pytest.mark.skipif(not pg.postgres_available(), reason="PostgreSQL binaries not installed")
FLUSHES = (TaskName.FLUSH_SELECTION_EVENTS.value, TaskName.FLUSH_CACHE_STATS.value)


@contextlib.contextmanager
def fault_stack(tmp_path: Path) -> Iterator[tuple[PostgresServer, Any, Any, Settings, Path]]:
    """A copy of the bundled catalog published into a private Redis, and a private migrated
    PostgreSQL cluster: (database, redis server, client, settings, catalog root)."""
    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    database = PostgresServer(tmp_path / "pg")
    try:
        migrate.upgrade(database.url)
        with redis_server(tmp_path / "redis") as server:
            r = server.client()
            settings = Settings(env="test", redis_url=server.url, api_token=TOKEN, catalog_path=root,
                                database_url=database.url)
            refresh_catalog(r, settings, WorkerState(), force=True)
            try:
                yield database, server, r, settings, root
            finally:
                r.close()
    finally:
        database.destroy()


def _flushing_keys(r: Any) -> list[bytes]:
    return list(r.scan_iter(match=f"{keys.STATS}:flushing:*"))


def test_given_database_down_when_serving_and_flushing_then_requests_unaffected_and_metrics_land_once(
    tmp_path: Path, spawn_celery: Any
) -> None:
    with fault_stack(tmp_path) as (database, server, r, settings, root):
        worker = spawn_celery.start(worker_args("metrics", "metrics"), server.url, "metrics",
                                    AGENTLOAD_DATABASE_URL=database.url, AGENTLOAD_CATALOG_PATH=str(root))
        app = client_app(server.url)
        with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
            wait_ready(worker)
            n_up, n_down = 12, 10
            assert all(http.get(SEL, params=HOT).status_code == 200 for _ in range(n_up))
            wait_until(lambda: r.llen(keys.SELECTION_EVENTS) == n_up, 5, what="events buffered to Redis")
            for name in FLUSHES:
                app.send_task(name).get(timeout=15)
            assert sql_totals(database.url) == {"selection_hits": n_up, "agent_loading_metrics": n_up,
                                                "token_optimization": n_up}

            database.pause()
            slowest = 0.0
            for _ in range(n_down):
                started = time.perf_counter()
                resp = http.get(SEL, params=HOT)
                slowest = max(slowest, time.perf_counter() - started)
                assert resp.status_code == 200 and resp.json()["cache"] == "hit"
            assert slowest < 0.5, f"the request path waited {slowest:.2f}s on a dead database"
            metrics = http.get("/api/v1/performance/metrics")
            assert metrics.status_code == 200 and metrics.json()["history_error"].startswith("OperationalError")
            usage = http.get("/api/v1/performance/token-usage")
            assert usage.status_code == 503 and usage.json()["detail"].startswith("database unavailable:")
            wait_until(lambda: r.llen(keys.SELECTION_EVENTS) == n_down, 5, what="events of the outage")

            pending = [app.send_task(name) for name in FLUSHES]
            wait_until(lambda: all(AsyncResult(p.id, app=app).state == "RETRY" for p in pending), 15,
                       0.05, "both flushes failing and scheduled for retry")
            # nothing was lost or left half-taken: events and counters are back in the live keys
            # (the RETRY state can be stored a moment before the batch is handed back: wait for it)
            wait_until(lambda: not _flushing_keys(r), 5, 0.05, "batch handed back")
            assert r.llen(keys.SELECTION_EVENTS) == n_down and not _flushing_keys(r)
            assert int(r.hget(keys.stats_key("selections"), "hits") or 0) == n_down
            assert "OperationalError" in worker.log()

            database.resume()
            for p in pending:
                p.get(timeout=20)  # the retry (backoff 1 s, 2 s, ...) lands without any help
            totals = sql_totals(database.url)
            served = n_up + n_down
            assert totals == {"selection_hits": served, "agent_loading_metrics": served,
                              "token_optimization": served}
            assert r.llen(keys.SELECTION_EVENTS) == 0 and not _flushing_keys(r)
            for name in FLUSHES:  # flushing again writes nothing more: exactly once
                app.send_task(name).get(timeout=15)
            assert sql_totals(database.url) == totals
        app.close()


def _cluster(database: PostgresServer) -> list[psutil.Process]:
    """The postmaster and every backend: what a frozen host or SIGSTOP halts."""
    root = psutil.Process(database.pids[-1])
    return [root, *root.children(recursive=True)]


def test_given_database_hung_when_flushing_then_selections_on_their_worker_are_not_delayed(
    tmp_path: Path, spawn_celery: Any
) -> None:
    """Fault 5: the database stops answering (SIGSTOP, not a refused connection). The flushes
    run on their own worker and give up at their soft time limit, handing their batch back;
    a free-text miss computed on the default worker meanwhile is as fast as usual."""
    with fault_stack(tmp_path) as (database, server, r, settings, root):
        frozen: list[psutil.Process] = []
        try:
            env = {"AGENTLOAD_DATABASE_URL": database.url, "AGENTLOAD_CATALOG_PATH": str(root),
                   "AGENTLOAD_METRICS_TASK_SOFT_TIME_LIMIT_S": "12", "AGENTLOAD_METRICS_TASK_TIME_LIMIT_S": "20"}
            metrics = spawn_celery.start(worker_args("metrics", "metrics"), server.url, "metrics", **env)
            default = spawn_celery.start(worker_args("default", "default,catalog"), server.url, "default", **env)
            app = client_app(server.url)
            with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=20) as http:
                wait_ready(metrics)
                wait_ready(default)
                assert all(http.get(SEL, params=HOT).status_code == 200 for _ in range(5))
                for name in FLUSHES:  # the metrics worker now holds pooled connections to the database
                    app.send_task(name).get(timeout=15)
                assert all(http.get(SEL, params=HOT).status_code == 200 for _ in range(5))
                wait_until(lambda: r.llen(keys.SELECTION_EVENTS) == 5, 5, what="events buffered to Redis")

                frozen = _cluster(database)
                for p in frozen:
                    p.suspend()
                pending = [app.send_task(name) for name in FLUSHES]
                time.sleep(0.5)  # both flushes are now waiting on the hung database
                started = time.perf_counter()
                miss = http.get(SEL, params={"request": "write the product brief for a bike-sharing app",
                                             "wait_ms": "5000"})
                if miss.status_code == 202:  # a heavily loaded machine: not within 5 s, so poll it
                    AsyncResult(miss.json()["task_id"], app=app).get(timeout=30)
                else:
                    assert miss.status_code == 200 and miss.json()["cache"] == "miss", miss.text
                took = time.perf_counter() - started
                # behind the flushes it would wait for their 12 s soft limit: it was computed while
                # both flushes were still hanging on the frozen database
                assert not any(AsyncResult(p.id, app=app).ready() for p in pending), "flushes ended first"
                assert took < 12.0, f"a miss waited {took:.1f}s behind the hung database"

                for p in pending:  # the soft limit frees the metrics worker; its batch goes back
                    wait_until(lambda p=p: AsyncResult(p.id, app=app).state in ("FAILURE", "RETRY"), 40, 0.1,
                               "flush given up at its soft time limit")
                wait_until(lambda: not _flushing_keys(r), 5, 0.05, "batch handed back")
                assert r.llen(keys.SELECTION_EVENTS) >= 5
                assert "SoftTimeLimitExceeded" in metrics.log()
                for p in frozen:
                    p.resume()
                frozen = []
                wait_until(lambda: app.send_task(FLUSHES[0]).get(timeout=20)["events"] >= 0, 30, 0.5,
                           "a flush succeeds again")
            app.close()
        finally:
            for p in frozen:
                p.resume()
