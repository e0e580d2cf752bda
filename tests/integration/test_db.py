"""The database layer against real databases: a throwaway PostgreSQL 15 and a SQLite file.

Every test runs on both dialects (module-scoped parametrised fixture, so each database is
created once): migrations apply and reverse, the migration matches the ORM, every table
round-trips UUID/JSON/array values with the native PostgreSQL types, and the repository's
aggregates give the numbers computed by hand below.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, Text, create_engine, delete, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import models
from models import migrate, repository
from models.session import dispose_engines, get_engine, normalize_url, session_scope
from tests.pg import postgres_available, start_postgres

pytestmark = pytest.mark.integration

TABLES = {
    "users",
    "projects",
    "performance_metrics",
    "agent_loading_metrics",
    "performance_benchmarks",
    "flushed_batches",
    "cache_performance",
    "token_optimization",
}
# children first, so deletes never violate a foreign key
DELETE_ORDER = (
    models.TokenOptimization,
    models.AgentLoadingMetric,
    models.CachePerformance,
    models.PerformanceMetric,
    models.PerformanceBenchmark,
    models.Project,
    models.User,
)


@contextmanager
def _postgres_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's PostgreSQL (conftest ``postgres_url``) or, without it, a cluster of our own."""
    try:
        shared: str | None = request.getfixturevalue("postgres_url")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        yield shared
        return
    if not postgres_available():
        pytest.skip("PostgreSQL server binaries not found (apt-get install -y postgresql-15)")
    url, stop = start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        yield url
    finally:
        stop()


@contextmanager
def _private_database(server_url: str) -> Iterator[str]:
    """A database of its own on a shared server: these tests drop every table (downgrade base)."""
    name = f"test_db_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engines(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real, private database per dialect for the whole module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'agentload.db'}"
        yield url
        dispose_engines(url)
        return
    with _postgres_server(request, tmp_path_factory) as server, _private_database(server) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> str:
    """The module database at head with every table empty."""
    migrate.upgrade(db_url)
    with session_scope(db_url) as session:
        for model in DELETE_ORDER:
            session.execute(delete(model))
    return db_url


def _tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


# ---------------------------------------------------------------- migrations


def test_given_fresh_database_when_upgrading_then_all_tables_exist(db_url: str) -> None:
    migrate.upgrade(db_url)

    assert _tables(db_url) >= TABLES
    assert migrate.current(db_url) == migrate.head() == "0003_sqlite_uuid_hex"


def test_given_migrated_database_when_downgrading_to_base_and_upgrading_again_then_schema_returns(
    db_url: str,
) -> None:
    migrate.upgrade(db_url)

    migrate.downgrade(db_url, "base")
    assert _tables(db_url) & TABLES == set()
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url)
    assert _tables(db_url) >= TABLES
    assert migrate.current(db_url) == migrate.head()


def test_given_migrated_database_when_comparing_with_orm_metadata_then_there_is_no_difference(
    db_url: str,
) -> None:
    migrate.upgrade(db_url)

    assert migrate.schema_diff(db_url) == []


def test_given_rows_written_before_0003_when_upgrading_then_every_key_and_link_still_resolves(db: str) -> None:
    """Rows stored by the old ``GUID`` type (dashed text on SQLite) are found by the ``Uuid``
    type after the upgrade: joins by user and project, lookups by id, get-or-create."""
    migrate.downgrade(db, "0002_flushed_batches")
    user, project, bench = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    agents = "'{pm}'" if get_engine(db).dialect.name == "postgresql" else "'[\"pm\"]'"
    with get_engine(db).begin() as conn:  # literals as revision 0002's code wrote them: dashed
        conn.execute(text(f"INSERT INTO users (id, external_id) VALUES ('{user}', 'alice')"))
        conn.execute(text(f"INSERT INTO projects (id, external_id) VALUES ('{project}', 'shop')"))
        conn.execute(text(f"INSERT INTO performance_benchmarks (id, name, kind, status) "
                          f"VALUES ('{bench}', 'old', 'benchmark', 'complete')"))
        conn.execute(text(f"INSERT INTO performance_metrics (category, metric_name, metric_value, benchmark_id) "
                          f"VALUES ('benchmark', 'p50_ms', 1.5, '{bench}')"))
        conn.execute(text(f"INSERT INTO token_optimization (user_id, project_id, strategy, baseline_tokens, "
                          f"optimized_tokens, reduction, agents) VALUES ('{user}', '{project}', 'selective', 100, "
                          f"20, 0.8, {agents})"))

    migrate.upgrade(db)

    assert migrate.schema_diff(db) == []
    assert [(r["key"], r["count"]) for r in repository.token_usage_summary(db, group_by="user")] == [("alice", 1)]
    assert [(r["key"], r["count"]) for r in repository.token_usage_summary(db, group_by="project")] == [("shop", 1)]
    found = repository.get_benchmark(db, str(bench))
    assert found is not None and found["name"] == "old"
    assert repository.recent_performance_metrics(db)[0]["benchmark_id"] == str(bench)
    assert repository.get_or_create_user(db, "alice") == user
    repository.insert_token_optimization(db, [{"strategy": "selective", "baseline_tokens": 10, "optimized_tokens": 5,
                                               "user": "alice"}])
    assert [(r["key"], r["count"]) for r in repository.token_usage_summary(db, group_by="user")] == [("alice", 2)]
    if get_engine(db).dialect.name == "sqlite":
        with get_engine(db).connect() as conn:
            assert conn.execute(text("SELECT id FROM users")).scalar() == user.hex
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1

    migrate.downgrade(db, "0002_flushed_batches")  # and back: the old code's form again
    if get_engine(db).dialect.name == "sqlite":
        with get_engine(db).connect() as conn:
            assert conn.execute(text("SELECT id FROM users")).scalar() == str(user)
    migrate.upgrade(db)


def test_given_orm_drifted_from_migration_when_comparing_then_difference_is_reported(db_url: str) -> None:
    """Guards the guard: the empty diff above means something only if drift is detected."""
    migrate.upgrade(db_url)
    drifted = MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["users"].append_column(Column("nickname", Text()))
    drifted.tables["token_optimization"].c["agents"].type = Text()  # TEXT[] / JSON -> TEXT

    with get_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": migrate.compare_column_type})
        diffs = compare_metadata(context, drifted)

    added = [(d[0], d[2], d[3].name) for d in diffs if isinstance(d, tuple)]
    modified = [(d[0][0], d[0][2], d[0][3]) for d in diffs if isinstance(d, list)]
    assert added == [("add_column", "users", "nickname")]
    assert modified == [("modify_type", "token_optimization", "agents")]


# ---------------------------------------------------------------- round trips and native types


def test_given_one_row_per_table_when_read_back_then_uuid_json_and_array_values_are_intact(db: str) -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    labels = {"p": 95, "nested": {"list": [1, 2.5, None, "é"]}, "flag": True}
    agents = ["pm", "architect", "with,comma", 'quote"d', "ünïcode"]
    user_id, project_id, bench_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with session_scope(db) as session:
        session.add(models.User(id=user_id, external_id="alice", role="dev", created_at=when))
        session.add(
            models.Project(
                id=project_id,
                external_id="repo",
                name="R",
                track="bmad-method",
                field_type="greenfield",
                created_at=when,
            )
        )
        session.add(
            models.PerformanceBenchmark(
                id=bench_id,
                name="b",
                kind="load_test",
                status="complete",
                started_at=when,
                finished_at=when + timedelta(seconds=3),
                parameters={"users": 10},
                results=labels,
                resource_utilization={"cpu": [0.5, 0.75]},
                optimization_version=2,
                error=None,
            )
        )
        session.flush()
        session.add_all(
            [
                models.PerformanceMetric(
                    recorded_at=when,
                    category="benchmark",
                    metric_name="p95_ms",
                    metric_value=12.5,
                    unit="ms",
                    labels=labels,
                    strategy="selective",
                    benchmark_id=bench_id,
                ),
                models.AgentLoadingMetric(
                    recorded_at=when,
                    user_id=user_id,
                    project_id=project_id,
                    context_hash="h1",
                    strategy="selective",
                    agents_loaded=agents,
                    agents_count=5,
                    loaded_tokens=900,
                    manifest_tokens=30,
                    baseline_tokens=4000,
                    latency_ms=1.25,
                    cache_hit=True,
                    source="mcp",
                ),
                models.CachePerformance(
                    recorded_at=when,
                    cache_type="selections",
                    hits=3,
                    misses=1,
                    refreshes=1,
                    evictions=0,
                    size_keys=10,
                    memory_bytes=2**40,
                    avg_time_ms=0.3,
                    hit_rate=0.75,
                ),
                models.TokenOptimization(
                    recorded_at=when,
                    user_id=user_id,
                    project_id=project_id,
                    strategy="selective",
                    context_hash="h1",
                    baseline_tokens=4000,
                    optimized_tokens=930,
                    reduction=0.7675,
                    agents=agents,
                    optimization_version=2,
                ),
            ]
        )

    with Session(get_engine(db)) as session:
        user = session.scalars(select(models.User)).one()
        project = session.scalars(select(models.Project)).one()
        bench = session.scalars(select(models.PerformanceBenchmark)).one()
        metric = session.scalars(select(models.PerformanceMetric)).one()
        loading = session.scalars(select(models.AgentLoadingMetric)).one()
        cache = session.scalars(select(models.CachePerformance)).one()
        saving = session.scalars(select(models.TokenOptimization)).one()

    assert (user.id, user.external_id, user.role, user.created_at) == (user_id, "alice", "dev", when)
    assert (project.id, project.track, project.field_type) == (project_id, "bmad-method", "greenfield")
    assert bench.id == bench_id and bench.results == labels and bench.error is None
    assert bench.resource_utilization == {"cpu": [0.5, 0.75]}
    assert bench.finished_at == when + timedelta(seconds=3)
    assert metric.labels == labels and metric.benchmark_id == bench_id and metric.recorded_at == when
    assert loading.agents_loaded == agents and loading.cache_hit is True and loading.user_id == user_id
    assert (loading.latency_ms, loading.source, loading.project_id) == (1.25, "mcp", project_id)
    assert cache.memory_bytes == 2**40 and cache.hit_rate == 0.75
    assert saving.agents == agents and saving.reduction == 0.7675 and saving.project_id == project_id


def test_given_migrated_database_when_inspecting_columns_then_native_types_are_used(db: str) -> None:
    if get_engine(db).dialect.name == "postgresql":
        query = text(
            "SELECT table_name || '.' || column_name, data_type, udt_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
        with get_engine(db).connect() as conn:
            types = {name: (data_type, udt) for name, data_type, udt in conn.execute(query)}
        assert types["users.id"][0] == "uuid"
        assert types["token_optimization.user_id"][0] == "uuid"
        assert types["performance_metrics.benchmark_id"][0] == "uuid"
        assert types["performance_metrics.labels"][0] == "jsonb"
        assert types["performance_benchmarks.results"][0] == "jsonb"
        assert types["agent_loading_metrics.agents_loaded"] == ("ARRAY", "_text")
        assert types["token_optimization.agents"] == ("ARRAY", "_text")
        assert types["token_optimization.recorded_at"][0] == "timestamp with time zone"
        assert types["token_optimization.id"][0] == "bigint"
    else:
        with get_engine(db).connect() as conn:
            declared = {
                (table, row[1]): row[2] for table in TABLES for row in conn.execute(text(f"PRAGMA table_info({table})"))
            }
        assert declared[("users", "id")] == "CHAR(36)"
        assert declared[("performance_metrics", "labels")] == "JSON"
        assert declared[("agent_loading_metrics", "agents_loaded")] == "JSON"
        assert declared[("token_optimization", "id")] == "INTEGER"


# ---------------------------------------------------------------- repository


def _ledger() -> list[dict[str, Any]]:
    """Known rows; the expected numbers in the tests below are worked out from these."""
    return [
        {
            "user": "alice",
            "project": "p1",
            "strategy": "selective",
            "baseline_tokens": 1000,
            "optimized_tokens": 200,
            "agents": ["pm"],
            "recorded_at": "2025-01-01T10:00:00+00:00",
        },
        # 23:30 at UTC-2 is 01:30 UTC on the 2nd: days are UTC days
        {
            "user": "alice",
            "project": "p2",
            "strategy": "selective",
            "baseline_tokens": 1000,
            "optimized_tokens": 400,
            "recorded_at": "2025-01-01T23:30:00-02:00",
        },
        {
            "user": "bob",
            "project": "p1",
            "strategy": "full",
            "baseline_tokens": 1000,
            "optimized_tokens": 1000,
            "recorded_at": "2025-01-02T05:00:00Z",
        },
        {
            "strategy": "cached",
            "baseline_tokens": 500,
            "optimized_tokens": 100,
            "recorded_at": datetime(2025, 1, 3, tzinfo=UTC),
        },
    ]


def _summary(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["key"], r["count"], r["baseline_tokens"], r["optimized_tokens"], round(r["mean_reduction"], 9)) for r in rows
    ]


def test_given_known_savings_when_summarising_then_totals_and_means_are_exact(db: str) -> None:
    assert repository.insert_token_optimization(db, _ledger()) == 4

    by_strategy = repository.token_usage_summary(db, "strategy")
    by_user = repository.token_usage_summary(db, "user")
    by_project = repository.token_usage_summary(db, "project")
    by_day = repository.token_usage_summary(db, "day")

    assert _summary(by_strategy) == [
        ("selective", 2, 2000, 600, 0.7),
        ("full", 1, 1000, 1000, 0.0),
        ("cached", 1, 500, 100, 0.8),
    ]
    assert by_strategy[0]["saved_tokens"] == 1400
    assert by_strategy[0]["overall_reduction"] == pytest.approx(0.7)
    assert _summary(by_user) == [
        ("alice", 2, 2000, 600, 0.7),
        ("bob", 1, 1000, 1000, 0.0),
        (None, 1, 500, 100, 0.8),
    ]
    assert _summary(by_project) == [
        ("p1", 2, 2000, 1200, 0.4),
        ("p2", 1, 1000, 400, 0.6),
        (None, 1, 500, 100, 0.8),
    ]
    assert _summary(by_day) == [
        ("2025-01-03", 1, 500, 100, 0.8),
        ("2025-01-02", 2, 2000, 1400, 0.3),
        ("2025-01-01", 1, 1000, 200, 0.8),
    ]
    assert _summary(repository.token_usage_summary(db, "day", limit=1, since="2025-01-02T00:00:00Z")) == [
        ("2025-01-03", 1, 500, 100, 0.8)
    ]


def test_given_rows_naming_users_when_inserting_then_identities_are_created_once(db: str) -> None:
    repository.insert_token_optimization(db, _ledger())

    with session_scope(db) as session:
        alice = repository.get_or_create_user(session, "alice", role="architect")
        again = repository.get_or_create_user(session, "alice", role="dev")
        users = session.scalars(select(models.User).order_by(models.User.external_id)).all()
        ids = session.scalars(select(models.TokenOptimization.user_id)).all()

    assert alice == again and [u.external_id for u in users] == ["alice", "bob"]
    assert users[0].role == "architect"  # filled once, never overwritten
    assert ids.count(alice) == 2 and ids.count(None) == 1


def test_given_concurrent_writers_when_creating_same_user_then_one_row_and_one_id(db: str) -> None:
    results: list[uuid.UUID] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(repository.get_or_create_user(db, "racer"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(set(results)) == 1 and len(results) == 6
    with session_scope(db) as session:
        assert session.scalar(select(models.User.id).where(models.User.external_id == "racer")) == results[0]


def test_given_cache_and_metric_rows_when_reading_recent_then_newest_first_with_defaults(db: str) -> None:
    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    bench = repository.create_benchmark(db, "nightly", "benchmark", {"n": 3})
    repository.insert_cache_performance(
        db,
        [
            {"cache_type": "selections", "hits": 3, "misses": 1, "recorded_at": t0},
            {"cache_type": "user_context", "hits": 0, "misses": 0, "recorded_at": t0 + timedelta(minutes=1)},
        ],
    )
    repository.insert_performance_metrics(
        db,
        [
            {"category": "baseline", "metric_name": "tokens", "metric_value": 4000, "recorded_at": t0},
            {
                "category": "benchmark",
                "metric_name": "p95_ms",
                "metric_value": 7.5,
                "unit": "ms",
                "labels": {"run": 1},
                "benchmark_id": bench,
                "recorded_at": t0 + timedelta(seconds=1),
            },
        ],
    )
    repository.insert_agent_loading_metrics(
        db, [{"strategy": "selective", "agents_loaded": ["pm", "dev"], "user": "carol", "latency_ms": 2}]
    )

    caches = repository.recent_cache_performance(db, limit=10)
    metrics = repository.recent_performance_metrics(db)
    loads = repository.recent_agent_loading_metrics(db, user="carol")

    assert [(c["cache_type"], c["hit_rate"]) for c in caches] == [("user_context", 0.0), ("selections", 0.75)]
    assert [c["cache_type"] for c in repository.recent_cache_performance(db, cache_type="selections")] == ["selections"]
    assert [m["metric_name"] for m in metrics] == ["p95_ms", "tokens"]
    assert metrics[0]["benchmark_id"] == bench and metrics[0]["labels"] == {"run": 1}
    assert metrics[1]["labels"] == {} and metrics[1]["metric_value"] == 4000.0
    baseline_only = repository.recent_performance_metrics(db, category="baseline")
    assert [m["metric_name"] for m in baseline_only] == ["tokens"]
    assert len(loads) == 1 and loads[0]["agents_count"] == 2 and loads[0]["cache_hit"] is False
    assert loads[0]["recorded_at"].endswith("+00:00") and loads[0]["source"] == "api"


def test_given_a_benchmark_when_it_completes_then_status_results_and_duration_are_recorded(db: str) -> None:
    run_id = repository.create_benchmark(db, "load", "load_test", {"users": 50})
    other = repository.create_benchmark(db, "opt", "optimize")

    running = repository.get_benchmark(db, run_id)
    done = repository.update_benchmark(
        db, run_id, status="complete", results={"rps": 120.5}, resource_utilization={"cpu_pct": 80}
    )
    assert running is not None and running["status"] == "running" and running["finished_at"] is None
    assert done is not None and done["status"] == "complete" and done["results"] == {"rps": 120.5}
    assert done["duration_s"] is not None and done["duration_s"] >= 0
    assert repository.get_benchmark(db, run_id) == done
    assert [b["id"] for b in repository.list_benchmarks(db, kind="load_test")] == [run_id]
    assert {b["id"] for b in repository.list_benchmarks(db)} == {run_id, other}
    assert repository.get_benchmark(db, str(uuid.uuid4())) is None
    assert repository.get_benchmark(db, "not-a-uuid") is None
    assert repository.update_benchmark(db, str(uuid.uuid4()), status="failed") is None


def test_given_invalid_rows_when_inserting_then_value_error_and_nothing_written(db: str) -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        repository.insert_cache_performance(db, [{"cache_type": "selections", "hitz": 1}])
    with pytest.raises(ValueError, match="category"):
        repository.insert_performance_metrics(db, [{"category": "no", "metric_name": "x", "metric_value": 1}])
    with pytest.raises(ValueError, match="required"):
        repository.insert_token_optimization(db, [{"strategy": "selective", "baseline_tokens": 1}])
    with pytest.raises(ValueError, match="kind"):
        repository.create_benchmark(db, "x", "marathon")

    with session_scope(db) as session:
        for model in DELETE_ORDER:
            assert session.scalar(select(model).limit(1)) is None
