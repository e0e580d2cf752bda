"""Fast checks of the database layer on SQLite only (the PostgreSQL side is tests/integration/test_db.py)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

import models
from models import migrate, repository, rows
from models.session import dispose_engines, get_engine, normalize_url, session_scope
from models.types import TextArray, UTCDateTime
from tests.pg import PG_SCRIPT, free_port


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'nested' / 'agentload.db'}"
    migrate.upgrade(url)
    yield url
    dispose_engines(url)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        (" sqlite:///x.db ", "sqlite:///x.db"),
    ],
)
def test_given_database_url_when_normalising_then_postgres_uses_psycopg3(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_given_equivalent_urls_when_getting_engines_then_one_engine_is_shared() -> None:
    try:
        first = get_engine("postgres://nobody@127.0.0.1:1/none")
        assert get_engine("postgresql+psycopg://nobody@127.0.0.1:1/none") is first
        assert first.dialect.driver == "psycopg"
    finally:
        dispose_engines("postgres://nobody@127.0.0.1:1/none")


def test_given_sqlite_file_when_connecting_then_wal_and_foreign_keys_are_on(sqlite_url: str) -> None:
    with get_engine(sqlite_url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_given_in_memory_sqlite_when_migrated_then_sessions_see_the_same_tables() -> None:
    try:
        migrate.upgrade("sqlite://")
        assert repository.insert_cache_performance("sqlite://", [{"cache_type": "selections", "hits": 1}]) == 1
        assert len(repository.recent_cache_performance("sqlite://")) == 1
    finally:
        dispose_engines("sqlite://")


def test_given_error_inside_scope_when_leaving_then_changes_are_rolled_back(sqlite_url: str) -> None:
    with pytest.raises(RuntimeError), session_scope(sqlite_url) as session:
        repository.get_or_create_user(session, "ghost")
        raise RuntimeError("boom")
    with session_scope(sqlite_url) as session:
        repository.get_or_create_user(session, "kept")
    with session_scope(sqlite_url) as session:
        assert session.scalars(select(models.User.external_id)).all() == ["kept"]


def test_given_migrated_file_when_using_the_cli_then_current_and_check_report_head(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate.main(["current", "--url", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == migrate.head() == "0003_sqlite_uuid_hex"
    assert migrate.main(["check", "--url", sqlite_url]) == 0
    assert migrate.main(["downgrade", "base", "--url", sqlite_url]) == 0
    assert migrate.current(sqlite_url) is None


def test_given_portable_types_when_binding_then_each_dialect_gets_its_storage_form() -> None:
    lite = create_engine("sqlite://").dialect
    assert TextArray().process_bind_param(("a", "b"), lite) == ["a", "b"]
    with pytest.raises(TypeError):
        TextArray().process_bind_param("ab", lite)
    local = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert UTCDateTime().process_bind_param(local, lite) == datetime(2025, 1, 1, 10)
    assert UTCDateTime().process_result_value(datetime(2025, 1, 1, 10), lite) == datetime(2025, 1, 1, 10, tzinfo=UTC)


def test_given_partial_rows_when_normalising_then_defaults_and_derived_values_are_filled() -> None:
    owner = uuid.uuid4()
    [saving] = rows.normalize(
        rows.TokenOptimizationRow,
        [{"strategy": "s", "baseline_tokens": "400", "optimized_tokens": 100, "user_id": str(owner), "agents": None}],
    )
    [loading] = rows.normalize(
        rows.AgentLoadingRow, [{"strategy": "s", "agents_loaded": ("a", "b"), "cache_hit": "true", "user": "alice"}]
    )
    [cache] = rows.normalize(rows.CachePerformanceRow, [{"cache_type": "selections", "hits": 3, "misses": 1}])
    assert saving["reduction"] == 0.75 and saving["agents"] == [] and saving["recorded_at"].tzinfo is UTC
    assert saving["user_id"] == owner and "user" not in saving  # an external id only where one was given
    assert loading["agents_count"] == 2 and loading["cache_hit"] is True and loading["source"] == "api"
    assert loading["agents_loaded"] == ["a", "b"] and loading["user"] == "alice"
    assert cache["hit_rate"] == 0.75 and cache["memory_bytes"] == 0 and cache["avg_time_ms"] is None
    assert set(cache) == {"recorded_at", *rows.CachePerformanceRow.model_fields} - {"user", "project"}


def test_given_an_iso_time_when_normalising_then_it_is_aware_utc() -> None:
    row = {"category": "live", "metric_name": "p99_ms", "metric_value": "2.5", "recorded_at": "2025-01-01T12:00+02:00"}
    [metric] = rows.normalize(rows.PerformanceMetricRow, [row])
    assert metric["recorded_at"] == datetime(2025, 1, 1, 10, tzinfo=UTC) and metric["labels"] == {}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"cache_type": "selections", "user": "alice"}, r"cache_performance row 1: unknown keys \['user'\]"),
        ({"cache_type": "redis"}, "bad 'cache_type': .*'redis' is not one of agent_definitions"),
        ({"cache_type": "selections", "hits": "many"}, "bad 'hits'"),
        ({"hits": 1}, "'cache_type' is required"),
    ],
)
def test_given_bad_cache_row_when_normalising_then_value_error_names_the_problem(
    row: dict[str, object], message: str
) -> None:
    good = {"cache_type": "selections"}
    with pytest.raises(ValueError, match=message):
        rows.normalize(rows.CachePerformanceRow, [good, row])


def test_given_a_row_that_is_not_a_dict_when_normalising_then_type_error() -> None:
    with pytest.raises(TypeError, match="token_optimization row 0: expected a dict, got list"):
        rows.normalize(rows.TokenOptimizationRow, [["strategy", "s"]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single dict"):
        rows.normalize(rows.TokenOptimizationRow, {"strategy": "s"})  # type: ignore[arg-type]


def test_given_free_port_when_binding_then_it_is_usable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_given_missing_postgres_binaries_when_starting_then_script_fails_with_install_hint(tmp_path: Path) -> None:
    env = {**os.environ, "PG_BIN": str(tmp_path / "nowhere")}
    proc = subprocess.run(
        ["bash", str(PG_SCRIPT), "start", str(tmp_path / "pg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "pg_ctl" in proc.stderr and "apt-get install -y postgresql-15" in proc.stderr


def test_given_no_cluster_when_stopping_then_script_succeeds_without_binaries(tmp_path: Path) -> None:
    env = {**os.environ, "PG_BIN": str(tmp_path / "nowhere")}
    proc = subprocess.run(
        ["bash", str(PG_SCRIPT), "stop", str(tmp_path / "absent")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
