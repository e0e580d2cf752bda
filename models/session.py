"""Engines and sessions: one engine per database URL per process.

Engines own connection pools, so they are created once per URL and reused (creating one per
task would open a new pool, and new connections, for every message). Celery's prefork pool
forks after import; a pool inherited across ``fork`` would share sockets between processes,
so children drop their inherited pools (``dispose(close=False)``, the SQLAlchemy-recommended
way) via ``os.register_at_fork``. ``dispose_engines()`` is for shutdown and tests.

URLs from the environment are often written ``postgres://`` or ``postgresql://``; both are
rewritten to the psycopg 3 driver, the only PostgreSQL driver this project installs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

_PG_PREFIXES = ("postgres://", "postgresql://")
_PG_DRIVER = "postgresql+psycopg://"
SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
POOL_TIMEOUT_S = 10

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}


def normalize_url(url: str) -> str:
    """Rewrite ``postgres://`` / ``postgresql://`` to ``postgresql+psycopg://``; keep others."""
    url = url.strip()
    for prefix in _PG_PREFIXES:
        if url.startswith(prefix):
            return _PG_DRIVER + url[len(prefix) :]
    return url


def _is_memory_sqlite(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run during a write; FKs are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _create(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if _is_memory_sqlite(parsed.database):
            # one shared connection, otherwise every checkout would see an empty database
            kwargs["poolclass"] = StaticPool
        elif parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    # a database that stops answering must not hold a worker for minutes: connecting gives up
    # after CONNECT_TIMEOUT_S, a statement (or a lock wait) after STATEMENT_TIMEOUT_MS, a pool
    # checkout after POOL_TIMEOUT_S; a server that hangs mid-statement (SIGSTOP, frozen VM) is
    # cut by the metrics tasks' soft time limit (workers/config.py)
    return create_engine(url, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT_S, connect_args={
        "connect_timeout": CONNECT_TIMEOUT_S,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"})


def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (normalised), created on first use."""
    key = normalize_url(url)
    engine = _engines.get(key)
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create(key)
            _engines[key] = engine
        return engine


def get_sessionmaker(url: str) -> sessionmaker[Session]:
    """A cached ``sessionmaker`` bound to ``get_engine(url)``.

    ``expire_on_commit=False`` so values read inside a scope stay readable after commit;
    callers still convert to dicts before anything leaves the process.
    """
    key = normalize_url(url)
    factory = _sessionmakers.get(key)
    if factory is None:
        factory = sessionmaker(bind=get_engine(key), expire_on_commit=False)
        with _lock:
            factory = _sessionmakers.setdefault(key, factory)
    return factory


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success, rolls back on any exception, and always closes."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines(url: str | None = None) -> None:
    """Close pooled connections and forget engines: all of them, or only ``url``'s.

    For shutdown and tests (e.g. before stopping a throwaway PostgreSQL); the next
    ``get_engine`` call simply creates a fresh engine.
    """
    with _lock:
        if url is None:
            engines = list(_engines.values())
            _engines.clear()
            _sessionmakers.clear()
        else:
            key = normalize_url(url)
            _sessionmakers.pop(key, None)
            engine = _engines.pop(key, None)
            engines = [] if engine is None else [engine]
    for engine in engines:
        engine.dispose()


def _forget_pools_after_fork() -> None:
    # The parent still owns these sockets: drop the references without closing them. The
    # lock may have been held by another thread at fork time, so the child gets a fresh one.
    global _lock
    _lock = threading.Lock()
    for engine in list(_engines.values()):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)
