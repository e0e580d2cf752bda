"""Fault: a worker killed with SIGKILL in the middle of publishing a catalog version.

Each test owns its Redis (``faults.RedisServer``) and its workers (``spawn_celery``), so
killing them disturbs nothing shared. The catalog is synthetic (a few hundred agents) so a
build takes long enough to be interrupted; the kill is triggered by Redis itself: a keyspace
notification fires on the first ``SADD`` into a version index, i.e. once the new version's
keys are being written and before the pointer switch.

Throughout, ``VersionWatcher`` checks atomically (Lua) every few ms that the version
``CURRENT_VERSION`` points at is complete: a reader never sees a half version.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from celery.result import AsyncResult
from faults import (
    BUNDLED,
    PM,
    RedisServer,
    VersionWatcher,
    client_app,
    fast_forward,
    kill_group,
    orphan_versions,
    pool_children,
    redis_server,
    snapshot,
    wait_ready,
    wait_until,
    worker_args,
)

from agentload import keys
from agentload.measure.synthetic import make_synthetic_catalog
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.reader.shared import agent_value
from agentload.settings import Settings
from agentload.tasknames import TaskName
from workers.config import visibility_timeout

N_AGENTS = 300
RESULT_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("synthetic") / "catalog", N_AGENTS)


@pytest.fixture
def catalog(synthetic_root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "catalog"
    shutil.copytree(synthetic_root, dst)
    return dst


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as srv:
        yield srv


class PublishTrigger:
    """Runs ``action`` as soon as Redis reports the first write into a version index."""

    def __init__(self, r: redis.Redis) -> None:
        r.config_set("notify-keyspace-events", "Ks")
        self.pubsub = r.pubsub()
        self.pubsub.psubscribe(f"__keyspace@0__:{keys.version_index_key('*')}")

    def fire_on_first_write(self, action: Callable[[], None], timeout_s: float = 15) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message and message["type"] == "pmessage":
                action()
                channel = message["channel"].decode()
                self.pubsub.close()
                return channel.split(":cat:", 1)[1].rsplit(":index", 1)[0]  # the version being built
        self.pubsub.close()
        raise AssertionError("no version index was written: the build never reached publication")


def _publish_in_process(url: str, root: Path) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        return refresh_catalog(client, Settings(env="test", redis_url=url, catalog_path=root), WorkerState(),
                               force=True)
    finally:
        client.close()


def _assert_whole_and_persistent(r: redis.Redis, n_agents: int) -> str:
    snap = snapshot(r)
    assert snap.whole(), snap
    assert snap.agents == n_agents and snap.with_ttl == 0, snap  # the live version never expires
    assert snap.version is not None
    return snap.version


def test_given_whole_worker_sigkilled_mid_preload_when_a_replacement_starts_then_the_preload_completes(
    server: RedisServer, catalog: Path, spawn_celery: Any
) -> None:
    """Host crash / OOM kill of the whole worker (main process and pool): the unacked message
    stays in kombu's ``unacked`` hash and a new worker restores it once the visibility timeout
    has passed (simulated with ``fast_forward``: the timeout is time limit + 300 s)."""
    r = server.client()
    env = {"AGENTLOAD_CATALOG_PATH": str(catalog)}
    first = spawn_celery.start(worker_args("victim", "catalog"), server.url, "victim", **env)
    wait_ready(first)
    app = client_app(server.url)
    trigger = PublishTrigger(r)
    with VersionWatcher(server.url) as watcher:
        task = app.send_task(TaskName.PRELOAD.value, kwargs={"full": True})
        building = trigger.fire_on_first_write(lambda: kill_group(first))

        # killed mid-publication: nothing is current, the half build expires, the message is kept
        assert r.get(keys.CURRENT_VERSION) is None
        orphans = orphan_versions(r)
        assert set(orphans) == {building} and 0 < orphans[building]["keys"] < N_AGENTS
        assert orphans[building]["without_ttl"] == 0, f"half-built keys that never expire: {orphans}"
        assert r.hlen("unacked") == 1 and r.llen("catalog") == 0

        settings = Settings(env="test", redis_url=server.url)
        fast_forward(r, visibility_timeout(settings) + 1)  # the refresh lock (60 s) expires on the way
        second = spawn_celery.start(worker_args("replacement", "catalog"), server.url, "replacement", **env)
        wait_ready(second)
        result = AsyncResult(task.id, app=app).get(timeout=RESULT_TIMEOUT_S)
    wait_until(lambda: r.hlen("unacked") == 0, 5, what="the ack (acks_late: after the result is stored)")
    assert result["published"] is True and result["agents"] == N_AGENTS
    assert _assert_whole_and_persistent(r, N_AGENTS) == result["version"]
    assert watcher.checks > 50 and not watcher.violations, watcher.violations[:3]
    assert watcher.versions == [result["version"]]
    app.close()
    r.close()


def test_given_pool_child_sigkilled_mid_refresh_when_redelivered_then_the_live_version_stays_whole(
    server: RedisServer, catalog: Path, spawn_celery: Any
) -> None:
    """The process running the task dies (OOM killer, segfault): ``task_reject_on_worker_lost``
    requeues the message at once and a new pool process runs it again. The previous version
    is served whole throughout and the interrupted build leaves only expiring keys."""
    r = server.client()
    before = _publish_in_process(server.url, catalog)
    pm = catalog / PM
    pm.write_text(pm.read_text().replace("role: Product Manager", "role: Killed-Refresh Product Manager"))
    worker = spawn_celery.start(worker_args("refresher", "catalog"), server.url, "refresher",
                                AGENTLOAD_CATALOG_PATH=str(catalog))
    wait_ready(worker)
    app = client_app(server.url)
    trigger = PublishTrigger(r)
    with VersionWatcher(server.url) as watcher:
        task = app.send_task(TaskName.REFRESH.value, kwargs={"force": False})
        victim = pool_children(worker)
        assert len(victim) == 1
        building = trigger.fire_on_first_write(victim[0].kill)
        result = AsyncResult(task.id, app=app).get(timeout=RESULT_TIMEOUT_S)
        log = worker.log()
        assert "WorkerLostError" in log  # the death was noticed and the message requeued...
        assert log.count(f"task start name={TaskName.REFRESH.value} id={task.id}") == 2  # ...and ran again

        orphans = orphan_versions(r)
        assert building in orphans and orphans[building]["without_ttl"] == 0, orphans
        # the redelivered task (same id) takes over its dead run's lock instead of reporting "locked"
        assert result.get("skipped") != "locked", result
    assert result["published"] is True and result["previous"] == before["version"]
    live = _assert_whole_and_persistent(r, N_AGENTS)
    agent = orjson.loads(agent_value(r, live, "pm") or b"null")
    assert "Killed-Refresh Product Manager" in agent["text"]
    assert watcher.checks > 50 and not watcher.violations, watcher.violations[:3]
    assert watcher.versions == [before["version"], live]  # old whole version, then new whole version
    app.close()
    r.close()
