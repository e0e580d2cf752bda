"""Row math of the cache statistics flush (pure: no Redis, no database)."""

from __future__ import annotations

import pytest

from agentload.publish.stats import build_rows
from agentload.reader.counting import hit_summary, parse_counters


def test_given_flat_or_mapping_replies_when_parsing_then_counters_are_ints() -> None:
    assert parse_counters([b"hits", b"3", "misses", "1"]) == {"hits": 3, "misses": 1}
    assert parse_counters({"hits": "2"}) == {"hits": 2}


def test_given_counters_when_summarising_then_rate_and_mean_time_follow() -> None:
    s = hit_summary({"hits": "3", "misses": "1", "time_us": "8000", "timed": "4"})
    assert s == {"hits": 3, "misses": 1, "hit_rate": 0.75, "avg_time_ms": 2.0}
    assert hit_summary({}) == {"hits": 0, "misses": 0, "hit_rate": None, "avg_time_ms": None}


def test_given_counters_and_sizes_when_building_rows_then_each_active_type_gets_one_row() -> None:
    rows = build_rows(
        {"selections": {"hits": 99, "misses": 1, "time_us": 5000, "timed": 100, "refreshes": 2,
                        "evictions": 170},
         "workflow_state": {"misses": 4}},
        {"selections": (171, 250_000), "agent_definitions": (10, 90_000), "user_context": (0, 0)},
    )
    by_type = {r["cache_type"]: r for r in rows}
    assert set(by_type) == {"selections", "workflow_state", "agent_definitions"}  # user_context idle
    sel = by_type["selections"]
    assert sel["hit_rate"] == pytest.approx(0.99)
    assert sel["avg_time_ms"] == pytest.approx(0.05)
    assert (sel["refreshes"], sel["evictions"], sel["size_keys"], sel["memory_bytes"]) == (2, 170, 171, 250_000)
    assert by_type["workflow_state"]["hit_rate"] == 0.0 and by_type["workflow_state"]["avg_time_ms"] is None
    assert by_type["agent_definitions"]["hits"] == 0 and by_type["agent_definitions"]["size_keys"] == 10
