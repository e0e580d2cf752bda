"""Flushing hot-path counters from a real Redis to SQL: each increment written exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from agentload import keys
from agentload.publish.stats import flush_cache_stats, sql_writer


def _hits(r: redis.Redis, cache_type: str, hits: int, misses: int = 0) -> None:
    r.hincrby(keys.stats_key(cache_type), "hits", hits)
    if misses:
        r.hincrby(keys.stats_key(cache_type), "misses", misses)


def _by_type(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["cache_type"]: row for row in rows}


def test_given_counters_when_flushing_twice_then_nothing_is_counted_twice(redis_client: redis.Redis) -> None:
    _hits(redis_client, "selections", 9, 1)
    redis_client.hincrby(keys.stats_key("selections"), "time_us", 2000)
    redis_client.hincrby(keys.stats_key("selections"), "timed", 10)
    written: list[list[dict[str, Any]]] = []
    result = flush_cache_stats(redis_client, written.append)
    row = _by_type(result["rows"])["selections"]
    assert (row["hits"], row["misses"], row["hit_rate"], row["avg_time_ms"]) == (9, 1, 0.9, 0.2)
    assert written == [result["rows"]]
    assert redis_client.exists(keys.stats_key("selections")) == 0
    assert list(redis_client.scan_iter(match=keys.stats_flush_key("*", "*"))) == []
    second = flush_cache_stats(redis_client, written.append)
    assert second["rows"] == [] and len(written) == 1


def test_given_increments_during_a_flush_when_flushing_then_they_wait_for_the_next_one(
    redis_client: redis.Redis,
) -> None:
    _hits(redis_client, "agent_definitions", 5)
    written: list[list[dict[str, Any]]] = []

    def write(rows: list[dict[str, Any]]) -> None:
        _hits(redis_client, "agent_definitions", 2)  # a request served while the flush runs
        written.append(rows)

    first = flush_cache_stats(redis_client, write)
    assert _by_type(first["rows"])["agent_definitions"]["hits"] == 5
    second = flush_cache_stats(redis_client, written.append)
    assert _by_type(second["rows"])["agent_definitions"]["hits"] == 2


def test_given_failing_write_when_flushing_then_counters_are_merged_back_exactly_once(
    redis_client: redis.Redis,
) -> None:
    _hits(redis_client, "workflow_state", 3, 4)

    def fail(rows: list[dict[str, Any]]) -> None:
        _hits(redis_client, "workflow_state", 1)
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        flush_cache_stats(redis_client, fail)
    assert redis_client.hgetall(keys.stats_key("workflow_state")) == {"hits": "4", "misses": "4"}
    assert list(redis_client.scan_iter(match=keys.stats_flush_key("*", "*"))) == []
    written: list[list[dict[str, Any]]] = []
    row = _by_type(flush_cache_stats(redis_client, written.append)["rows"])["workflow_state"]
    assert (row["hits"], row["misses"]) == (4, 4)


def test_given_project_and_user_keys_when_flushing_then_their_sizes_are_reported(
    redis_client: redis.Redis,
) -> None:
    redis_client.set(keys.workflow_state_key("p1"), "{}")
    redis_client.set(keys.workflow_state_key("p2"), "{}")
    redis_client.set(keys.user_prefs_key("u1"), "{}")
    rows = _by_type(flush_cache_stats(redis_client, lambda rows: None)["rows"])
    assert rows["workflow_state"]["size_keys"] == 2 and rows["workflow_state"]["memory_bytes"] > 0
    assert rows["user_context"]["size_keys"] == 1


def test_given_database_url_when_flushing_then_rows_land_in_cache_performance(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    migrate = pytest.importorskip("models.migrate")
    reports = pytest.importorskip("models.reports")
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate.upgrade(url)
    _hits(redis_client, "selections", 7, 3)
    result = flush_cache_stats(redis_client, url)
    assert result["written"] == 1
    stored = reports.recent_cache_performance(url)
    assert [(r["cache_type"], r["hits"], r["misses"], r["hit_rate"]) for r in stored] == [
        ("selections", 7, 3, 0.7)]
    assert sql_writer(url)([]) == 0
