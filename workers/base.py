"""Base task class and the shared retry policy.

Tasks are thin wrappers around ``agentload.jobs``; the base class adds what every task
needs (timing logs, a progress reporter) so the task bodies stay a few lines long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from celery import Task

logger = logging.getLogger("agentload.tasks")

#: only errors that a retry can fix; anything else is a bug and must fail loudly
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
)

ProgressFn = Callable[[dict[str, Any]], None]


class AgentloadTask(Task):  # type: ignore[misc]
    """Logs start / finish / failure with the duration, and always re-raises."""

    typing = True  # argument mismatch raises at call time instead of inside the worker

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        started = time.perf_counter()
        logger.info("task start name=%s id=%s", self.name, task_id)
        try:
            result = super().__call__(*args, **kwargs)
        except Exception as exc:
            logger.warning(
                "task error name=%s id=%s duration_s=%.3f error=%r",
                self.name,
                task_id,
                time.perf_counter() - started,
                exc,
            )
            raise
        logger.info("task done name=%s id=%s duration_s=%.3f", self.name, task_id, time.perf_counter() - started)
        return result

    def progress_reporter(self) -> ProgressFn:
        """A callback for long jobs: publishes ``PROGRESS`` state with a JSON-safe ``meta``.

        Outside a worker (direct call in a test or the CLI) there is no task id and so no
        result to update; the callback then only logs.
        """

        def report(meta: dict[str, Any]) -> None:
            if self.request.id is None:
                logger.debug("progress name=%s meta=%s", self.name, meta)
                return
            self.update_state(state="PROGRESS", meta=meta)

        return report


#: keyword arguments shared by every ``@shared_task`` that touches Redis or SQL
RETRY_POLICY: dict[str, Any] = {
    "base": AgentloadTask,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
