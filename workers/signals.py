"""Signal handlers: lifecycle logging and duplicate-beat detection.

Imported for its side effect by ``workers.app``; handlers only log or register, they
never change task outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery.signals import beat_init, task_failure, worker_ready, worker_shutdown

from agentload.settings import get_settings
from workers.beat_guard import start_guard

logger = logging.getLogger("agentload.workers")

Receiver = TypeVar("Receiver", bound=Callable[..., None])


def on(signal: Any) -> Callable[[Receiver], Receiver]:
    """``@on(worker_ready)``: connect the decorated receiver to a Celery signal and return it
    unchanged. Same as ``@worker_ready.connect``, which mypy cannot see through (Celery ships
    no type information)."""

    def connect(receiver: Receiver) -> Receiver:
        signal.connect(receiver)
        return receiver

    return connect


@on(worker_ready)
def log_worker_ready(sender: Any = None, **_: Any) -> None:
    """One line per worker start, with the queues it consumes (checked by ops and tests)."""
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender else []
    logger.info("worker ready hostname=%s queues=%s", getattr(sender, "hostname", "?"), queues)


@on(worker_shutdown)
def log_worker_shutdown(sender: Any = None, **_: Any) -> None:
    """One line per worker stop, the counterpart of ``worker ready``."""
    logger.info("worker shutdown hostname=%s", getattr(sender, "hostname", "?"))


@on(task_failure)
def log_task_failure(
    sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
) -> None:
    """Failures are logged once more at ERROR with the task name so alerts can key on it."""
    logger.error("task failed name=%s id=%s error=%r", getattr(sender, "name", "?"), task_id, exception)


@on(beat_init)
def register_beat(sender: Any = None, **_: Any) -> None:
    """Register this beat in Redis and warn loudly if another one is alive."""
    start_guard(get_settings().redis_url)
