"""The job functions Celery tasks call, run in-process against a real Redis and SQLite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from agentload import jobs, keys
from agentload.jobs import runtime
from agentload.reader.shared import agent_value

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
PM = "src/modules/bmm/agents/pm.agent.yaml"
FREE_TEXT = {"request": "our cypress suite is flaky, review the test quality"}


@pytest.fixture
def root(tmp_path: Path, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    dst = tmp_path / "catalog"
    shutil.copytree(BUNDLED, dst)
    monkeypatch.setenv("AGENTLOAD_CATALOG_PATH", str(dst))
    monkeypatch.setenv("AGENTLOAD_DATABASE_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
    monkeypatch.setenv("AGENTLOAD_VERSION_TTL_S", "120")
    runtime.STATE.parse_caches.clear()
    runtime.STATE.selectors.clear()
    runtime.STATE.forget_build()
    yield dst
    runtime.STATE.selectors.clear()


def test_given_empty_redis_when_preloading_then_one_version_is_published_and_reused(
    root: Path, redis_client: redis.Redis
) -> None:
    first = jobs.preload_catalog(full=False)
    assert first["published"] and orjson.dumps(first)  # JSON-safe
    assert jobs.preload_catalog(full=False)["changed"] is False
    assert jobs.refresh_catalog()["changed"] is False
    forced = jobs.preload_catalog(full=True)
    assert forced["published"] and forced["version"] != first["version"]
    assert redis_client.get(keys.CURRENT_VERSION) == forced["version"]


def test_given_free_text_when_selecting_then_the_worker_caches_it_once(
    root: Path, redis_client: redis.Redis
) -> None:
    jobs.preload_catalog(full=False)
    first = jobs.select_and_cache(FREE_TEXT)
    assert first["stored"] is True and first["agents"]
    assert 0 < redis_client.ttl(keys.selection_key(first["version"], first["key"])) <= 120
    again = jobs.select_and_cache(FREE_TEXT)
    assert again["stored"] is False and again["reason"] == "already cached"


def test_given_no_version_when_a_selection_job_runs_then_it_publishes_first(
    root: Path, redis_client: redis.Redis
) -> None:
    result = jobs.select_and_cache(FREE_TEXT)
    assert result["stored"] is True
    assert redis_client.get(keys.CURRENT_VERSION) == result["version"]


def test_given_other_process_published_when_selecting_then_a_selector_is_built_for_that_version(
    root: Path, redis_client: redis.Redis
) -> None:
    v = jobs.preload_catalog(full=False)["version"]
    runtime.STATE.selectors.clear()  # as in a worker process that did not publish
    assert jobs.select_and_cache(FREE_TEXT)["version"] == v
    assert v in runtime.STATE.selectors


def test_given_disk_ahead_of_redis_when_selecting_then_the_catalog_is_republished_first(
    root: Path, redis_client: redis.Redis
) -> None:
    v = jobs.preload_catalog(full=False)["version"]
    runtime.STATE.selectors.clear()
    pm = root / PM
    pm.write_text(pm.read_text().replace("role: Product Manager", "role: Newer Product Manager"))
    result = jobs.select_and_cache(FREE_TEXT)
    assert result["stored"] and result["version"] != v
    assert redis_client.get(keys.CURRENT_VERSION) == result["version"]


def test_given_broken_file_on_disk_when_selecting_then_nothing_is_written_under_the_live_version(
    root: Path, redis_client: redis.Redis
) -> None:
    v = jobs.preload_catalog(full=False)["version"]
    runtime.STATE.selectors.clear()
    (root / PM).write_text("agent: [broken\n")
    result = jobs.select_and_cache(FREE_TEXT)
    assert result["stored"] is False and "held" in result["reason"]
    context = jobs.preload_context({"phase": 2}, "p9", None)
    assert context["stored"] is False and context["project_id"] == "p9"
    assert redis_client.get(keys.CURRENT_VERSION) == v


def test_given_refresh_running_elsewhere_when_no_version_exists_then_the_job_reports_it(
    root: Path, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.REFRESH_LOCK, "someone-else", ex=30)
    result = jobs.select_and_cache(FREE_TEXT)
    assert result["stored"] is False and "no catalog version" in result["reason"]


def test_given_project_context_when_preloading_then_selection_agents_history_and_warming_happen(
    root: Path, redis_client: redis.Redis
) -> None:
    v = jobs.preload_catalog(full=False)["version"]
    ctx = {"track": "bmad-method", "field_type": "greenfield", "workflow_history": ["product-brief", "prd"],
           "next_workflow": "create-architecture"}
    result = jobs.preload_context(ctx, "proj-1", "user-1")
    assert result["cached"] is True and result["agents"] == ["architect"]
    assert result["observed_transitions"] == 1 and result["agents_written"] == 0
    assert result["warm"]["candidates"] == ["create-epics-and-stories"]
    assert jobs.preload_context(ctx, "proj-1", "user-1")["observed_transitions"] == 0
    free = jobs.preload_context({**ctx, "request": "pick postgres or dynamo"}, None, None)
    assert free["cached"] is False and free["stored"] is True
    redis_client.hdel(keys.refs_key(v), keys.agent_entry("architect"))
    assert agent_value(redis_client, v, "architect") is None
    assert jobs.preload_context(ctx, "proj-1", None)["agents_written"] == 1
    digest = redis_client.hget(keys.refs_key(v), keys.agent_entry("architect"))
    assert redis_client.ttl(keys.content_key(digest)) == -1  # kept as long as the version lists it
    assert orjson.loads(agent_value(redis_client, v, "architect") or "null")["id"] == "architect"


def test_given_counters_when_the_flush_job_runs_then_rows_reach_the_database(
    root: Path, redis_client: redis.Redis
) -> None:
    migrate = pytest.importorskip("models.migrate")
    from agentload.settings import get_settings

    migrate.upgrade(get_settings().database_url)
    redis_client.hincrby(keys.stats_key("selections"), "hits", 3)
    result = jobs.flush_cache_stats()
    assert result["written"] >= 1 and orjson.dumps(result)


def test_given_placeholder_jobs_when_importing_then_their_names_exist() -> None:
    from agentload.measure.jobs import benchmark, loadtest, optimize

    for job in (jobs.flush_selection_events, benchmark.run_benchmark, loadtest.run_load_test, optimize.run_optimize):
        assert callable(job)


def test_given_tuned_knobs_when_jobs_run_then_publication_and_workers_use_them(
    root: Path, redis_client: redis.Redis
) -> None:
    first = jobs.preload_catalog(full=False)
    redis_client.set(keys.SELECTION_CONFIG, orjson.dumps({"text_close_ratio": 0.5}))
    runtime.STATE.selectors.clear()
    result = jobs.select_and_cache(FREE_TEXT)  # the worker's digest now differs: it republishes
    assert result["stored"] is True and result["version"] != first["version"]
    assert jobs.refresh_catalog()["changed"] is False
