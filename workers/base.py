"""Base task class, the shared retry policy and ``agentload_task``, the typed task decorator.

Tasks are thin wrappers around ``agentload.jobs``; the base class adds what every task
needs (timing logs, a progress reporter) so the task bodies stay a few lines long.
``agentload_task(TaskName.X)`` is the only way a task is declared: the name is written once,
the queue comes from ``agentload.tasknames.ROUTES``, and because Celery's own decorators are
untyped the wrapper gives mypy the task's real signature back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, cast, overload

import redis.exceptions
import sqlalchemy.exc
from celery import Task, shared_task

from agentload.tasknames import TaskName, queue_of

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


P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class QueuedTask(Protocol[P, R_co]):
    """A registered task as callers see it: called directly it runs in-process with the
    function's own signature (bound tasks without ``self``); ``delay`` sends it to its queue."""

    name: str
    queue: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Any: ...  # celery.result.AsyncResult


@overload
def agentload_task(
    name: TaskName, *, bind: Literal[False] = False, retry: bool = True
) -> Callable[[Callable[P, R]], QueuedTask[P, R]]: ...


@overload
def agentload_task(
    name: TaskName, *, bind: Literal[True], retry: bool = True
) -> Callable[[Callable[Concatenate[AgentloadTask, P], R]], QueuedTask[P, R]]: ...


def agentload_task(name: TaskName, *, bind: bool = False, retry: bool = True) -> Callable[[Any], Any]:
    """Register the decorated function as the Celery task ``name`` on its routed queue.

    ``bind=True`` passes the running ``AgentloadTask`` as first argument (task id, progress).
    ``retry`` (default) applies ``RETRY_POLICY``; ``retry=False`` is for tasks whose failure
    must be seen at once (the readiness ping). Raises ``KeyError`` at import time when ``name``
    has no queue in ``ROUTES``.
    """
    options: dict[str, Any] = dict(RETRY_POLICY) if retry else {"base": AgentloadTask}
    options.update(name=name.value, queue=queue_of(name).value, bind=bind)

    def register(fn: Callable[..., Any]) -> Any:
        return cast(Any, shared_task(**options)(fn))

    return register
