"""Reads of the SQL history for the performance endpoints, off the event loop.

The ORM is synchronous, so each read runs in a worker thread under a deadline; a slow or
unreachable database makes the call fail (and the caller report ``history_error``) without
holding the request, while the live Redis figures still answer. This module is the API's
only way to SQL, and ``models`` is imported lazily, inside the calls: importing the API
loads no SQL module (a layering test checks), and the API runs (live figures only) in a
deployment without the database package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from agentload.api.problems import database_failure

DB_DEADLINE_S = 3.0


async def run_db(fn: Callable[[], Any], deadline_s: float = DB_DEADLINE_S) -> Any:
    """Run a blocking DB call in a thread; raises ``TimeoutError`` after ``deadline_s``."""
    with anyio.fail_after(deadline_s):
        return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)


async def performance_history(database_url: str, limit: int = 50) -> dict[str, Any]:
    """Recent performance metrics and cache snapshots; ``{"history_error": ...}`` on failure."""
    try:
        from models import repository

        def read() -> dict[str, Any]:
            return {"performance_metrics": repository.recent_performance_metrics(database_url, limit=limit),
                    "cache_performance": repository.recent_cache_performance(database_url, limit=limit)}

        history: dict[str, Any] = await run_db(read)
        return history
    except Exception as exc:  # any DB problem degrades to the live part only
        logging.getLogger("agentload.api").warning("metrics history unavailable: %s", exc)
        return {"history_error": database_failure(exc)}


async def token_usage(database_url: str, group_by: str, limit: int) -> list[dict[str, Any]]:
    """Token totals grouped by strategy|user|project|day (raises on DB failure)."""
    from models import repository

    rows: list[dict[str, Any]] = await run_db(partial(repository.token_usage_summary, database_url,
                                                      group_by=group_by, limit=limit))
    return rows


def list_benchmarks(database_url: str, *, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Stored performance runs, newest first (blocking: call through ``run_db``)."""
    from models import repository

    runs: list[dict[str, Any]] = repository.list_benchmarks(database_url, kind=kind, limit=limit)
    return runs
