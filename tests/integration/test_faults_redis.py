"""Fault: Redis crashes (SIGKILL) while the API serves, in the middle of a catalog publication.

Own ``redis-server`` with AOF (``appendfsync always``) on its own port, the app from
``create_app`` served by uvicorn in a thread (a real HTTP socket), the catalog published by the
same refresh code the workers run. ``test_api_redis_down.py`` covers the 503 shape per endpoint
without persistence; this test covers what persistence and buffering must guarantee across
the outage: nothing half-published, nothing counted twice, recovery without intervention.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from faults import (
    AUTH,
    BUNDLED,
    HOT,
    SEL,
    TOKEN,
    fast_forward,
    orphan_versions,
    redis_server,
    serve,
    snapshot,
    sql_totals,
    wait_until,
)

from agentload import keys
from agentload.api.app import create_app
from agentload.publish import publish
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.publish.stats import flush_cache_stats
from agentload.settings import Settings
from models import migrate

FAIL_FAST_S = 1.5
ROUTE = f"GET {SEL}"


def _settings(url: str, root: Path, db: str) -> Settings:
    return Settings(env="test", redis_url=url, api_token=TOKEN, catalog_path=root, database_url=db)


def test_given_redis_crashes_mid_publish_while_serving_when_it_restarts_then_503s_then_recovery_and_exact_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    db = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(db)
    n_before, n_outage, n_after = 20, 8, 15
    with redis_server(tmp_path / "redis", appendonly=True) as server:
        settings = _settings(server.url, root, db)
        r = server.client()
        v1 = refresh_catalog(r, settings, WorkerState(), force=True)["version"]
        with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
            assert all(http.get(SEL, params=HOT).status_code == 200 for _ in range(n_before))
            assert flush_cache_stats(r, db)["written"] >= 1  # the first flush, before the outage

            # a refresh is writing a new version when Redis dies, just before the pointer switch
            real_switch = publish.switch_version

            def crash_then_switch(*args: Any, **kwargs: Any) -> Any:
                server.kill()
                return real_switch(*args, **kwargs)

            monkeypatch.setattr(publish, "switch_version", crash_then_switch)
            with pytest.raises(redis.ConnectionError):
                refresh_catalog(r, settings, WorkerState(), force=True)
            monkeypatch.undo()

            # outage: every Redis-backed request fails fast with a JSON 503, liveness stays up
            slowest = 0.0
            for i in range(n_outage):
                started = time.perf_counter()
                resp = (http.get(SEL, params=HOT) if i % 2 == 0 else
                        http.put("/api/v1/flags/strategy", json={"strategy": "full"}, headers=AUTH))
                slowest = max(slowest, time.perf_counter() - started)
                assert resp.status_code == 503, resp.text
                assert resp.headers["content-type"] == "application/json"
                assert resp.json()["detail"].startswith("Redis is unavailable: ") and "Traceback" not in resp.text
                assert resp.headers["retry-after"] == "1"
            assert slowest < FAIL_FAST_S, f"slowest 503 took {slowest:.2f}s"
            assert http.get("/healthz").status_code == 200
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["redis"] == "unavailable"
            with pytest.raises(redis.ConnectionError):
                flush_cache_stats(r, db)  # the periodic flush fails; it must lose nothing

            # restart on the same port and data dir: the API recovers by itself, nothing re-published
            server.start()
            first = http.get(SEL, params=HOT)
            assert first.status_code == 200 and first.json()["version"] == v1, first.text
            assert all(http.get(SEL, params=HOT).status_code == 200 for _ in range(n_after - 1))
            assert http.get("/readyz").status_code == 200

            # the interrupted version never became current and expires; the live one is whole
            snap = snapshot(r)
            assert snap.version == v1 and snap.whole() and snap.with_ttl == 0, snap
            orphans = orphan_versions(r)
            assert len(orphans) == 1 and all(o["without_ttl"] == 0 for o in orphans.values()), orphans

            # counted exactly once across the outage (the telemetry buffer kept the 503s for later)
            live = http.get("/api/v1/performance/metrics", params={"history_limit": 0}).json()["live"]
            served = n_before + n_after
            assert live["endpoints"][ROUTE]["by_status"] == {"200": served, "503": n_outage // 2}
            assert live["selections_served"]["api"] == served
            assert live["events_pending"] == served
            assert flush_cache_stats(r, db)["written"] >= 1
            assert sql_totals(db)["selection_hits"] == served
            assert r.exists(keys.stats_key("selections")) == 0 or int(
                r.hget(keys.stats_key("selections"), "hits") or 0) == 0

            # the next refresh publishes; readers follow the pointer to the new whole version
            retried = refresh_catalog(r, settings, WorkerState(), force=True)
            if retried.get("skipped") == "locked":  # another run finds the crashed run's lock (kept by AOF)...
                fast_forward(r, settings.refresh_lock_timeout_s + 1)  # ...until it expires
                retried = refresh_catalog(r, settings, WorkerState(), force=True)
            v2 = retried["version"]
            assert wait_until(lambda: http.get(SEL, params=HOT).json().get("version") == v2, 5)
            assert snapshot(r).whole()
        r.close()


def test_given_redis_hung_when_requesting_then_503_within_the_fail_fast_budget(tmp_path: Path) -> None:
    """A Redis that accepts connections but never answers (SIGSTOP: a stuck host, a partition
    without RST) must fail the request as fast as a dead one."""
    import signal

    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    with redis_server(tmp_path / "redis") as server:
        settings = _settings(server.url, root, f"sqlite:///{tmp_path / 'db'}")
        r = server.client()
        refresh_catalog(r, settings, WorkerState(), force=True)
        r.close()
        with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=10) as http:
            assert http.get(SEL, params=HOT).status_code == 200
            assert server.proc is not None
            server.proc.send_signal(signal.SIGSTOP)
            try:
                started = time.perf_counter()
                resp = http.get(SEL, params=HOT)
                elapsed = time.perf_counter() - started
            finally:
                server.proc.send_signal(signal.SIGCONT)
            assert resp.status_code == 503 and resp.json()["detail"].startswith("Redis is unavailable")
            assert elapsed < FAIL_FAST_S, f"503 after {elapsed:.2f}s"
            assert http.get(SEL, params=HOT).status_code == 200  # and back as soon as Redis answers
