"""Shared fixtures: real Redis and PostgreSQL servers, settings isolation, the integration marker.

Servers are real processes (``scripts/redis.sh``, ``tests/pg.py``) started once per session
in a pytest temp dir; nothing here fakes Redis or SQL. Settings are read from the
environment, so fixtures set ``AGENTLOAD_*`` variables and clear the ``get_settings`` cache.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

# as in the workers (workers/__init__.py): one BLAS thread per process; the suite runs beside
# its own worker processes on a small machine, where OpenBLAS threads would spin for its cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
# the repo root holds workers/, tasks/, beat_schedule.py and tests/pg.py: importable without install
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agentload import keys  # noqa: E402
from agentload.settings import get_settings  # noqa: E402

REDIS_SCRIPT = REPO_ROOT / "scripts" / "redis.sh"
INTEGRATION_DIR = REPO_ROOT / "tests" / "integration"
REDIS_MISSING = (
    "redis-server is not installed (apt-get install -y redis-server, or `make deps`); "
    "integration tests need a real Redis"
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, ``kill``) ends the run like Ctrl-C: pytest then tears the session's
    fixtures down, so the Redis and PostgreSQL servers they started (daemons, not children of
    this process) are stopped instead of left running. Python's default for SIGTERM exits at
    once without running any ``finally``."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration is ``integration``; skip those when Redis is absent."""
    skip = pytest.mark.skip(reason=REDIS_MISSING) if not redis_server_available() else None
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
        if skip is not None and item.get_closest_marker("integration") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test sees settings built from the environment as it is *now*."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private redis-server (free port, no persistence) for the whole session.

    Also exported as ``AGENTLOAD_REDIS_URL`` for the session, so code that calls
    ``get_settings()`` talks to it.
    """
    if not redis_server_available():
        pytest.skip(REDIS_MISSING)
    state_dir = tmp_path_factory.mktemp("redis")
    started = subprocess.run(
        ["bash", str(REDIS_SCRIPT), "start", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/redis.sh start failed: {started.stderr.strip()}")
    url = started.stdout.strip().splitlines()[-1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTLOAD_REDIS_URL", url)
        get_settings.cache_clear()
        try:
            yield url
        finally:
            subprocess.run(["bash", str(REDIS_SCRIPT), "stop", str(state_dir)], timeout=60, check=False)
    get_settings.cache_clear()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A ``redis.Redis`` (str responses) on the session server, with app keys cleared first.

    Only ``agentload:*`` keys are deleted, never FLUSHDB: the live worker's kombu bindings
    and queues live in the same database and flushing them would silently drop messages.
    """
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    _delete_app_keys(client)
    try:
        yield client
    finally:
        client.close()


def _delete_app_keys(client: redis.Redis) -> None:
    pipe = client.pipeline()
    for key in client.scan_iter(match=f"{keys.PREFIX}:*", count=500):
        pipe.delete(key)
    pipe.execute()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private PostgreSQL cluster for the session (via ``tests/pg.py``)."""
    from tests import pg  # lazy: only sessions that need Postgres pay for it

    available = getattr(pg, "postgres_available", lambda: True)
    if not available():
        pytest.skip("PostgreSQL binaries (initdb/pg_ctl) not found; install postgresql-15 or `make deps`")
    url, stop = pg.start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def clean_agentload_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every ``AGENTLOAD_*`` variable, so a test sees the code defaults."""
    for name in list(os.environ):
        if name.startswith("AGENTLOAD_"):
            monkeypatch.delenv(name)
    return monkeypatch
