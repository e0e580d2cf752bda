"""Celery configuration derived from ``Settings`` (kept out of ``app.py`` so it is testable).

Every value here is a reliability decision, see the comments; the worker, beat, Flower and
any client app (tests, CLI) build their config from the same function.
"""

from __future__ import annotations

from typing import Any

from kombu.entity import Exchange
from kombu.entity import Queue as KombuQueue

from agentload import keys
from agentload.settings import Settings
from agentload.tasknames import LONG_QUEUES, METRICS_QUEUES, Queue, names_on, task_routes

#: results are for polling progress/outcome of jobs, not an archive (history lives in SQL)
RESULT_EXPIRES_S = keys.TASK_RESULT_TTL_S  # task results (the API polls them); long jobs keep theirs in SQL


def _kombu_queue(queue: Queue) -> KombuQueue:
    """The kombu declaration of ``queue``: a direct exchange and routing key of the same name.
    (kombu's constructors carry no annotations, hence the two ignores.)"""
    exchange = Exchange(queue.value, type="direct")  # type: ignore[no-untyped-call]
    made: KombuQueue = KombuQueue(queue.value, exchange, routing_key=queue.value)  # type: ignore[no-untyped-call]
    return made


def visibility_timeout(settings: Settings) -> int:
    """Seconds before Redis redelivers an unacked message.

    With ``acks_late`` a message stays unacked while its task runs; if the timeout were
    shorter than the longest hard limit a still-running job would be executed twice.
    """
    longest = max(settings.task_time_limit_s, settings.long_task_time_limit_s)
    return longest + settings.visibility_margin_s


def long_task_annotations(settings: Settings) -> dict[str, dict[str, int]]:
    """Per-task time limits: long for tasks routed to a long-job queue, short for the metrics
    flushes (a database that hangs must not hold their worker for the default limit)."""
    long = {"soft_time_limit": settings.long_task_soft_time_limit_s, "time_limit": settings.long_task_time_limit_s}
    short = {"soft_time_limit": settings.metrics_task_soft_time_limit_s,
             "time_limit": settings.metrics_task_time_limit_s}
    out = {name: dict(long) for name in names_on(LONG_QUEUES)}
    out.update({name: dict(short) for name in names_on(METRICS_QUEUES)})
    return out


def build_config(settings: Settings) -> dict[str, Any]:
    """The full Celery config mapping for ``app.conf.update``."""
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": visibility_timeout(settings)},
        "result_expires": RESULT_EXPIRES_S,
        "result_extended": True,  # name/args in the backend so Flower/AsyncResult can show them
        # JSON only: a pickle payload from anyone who can reach Redis would be code execution
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        # at-least-once: ack after the task ran, requeue if the worker process died
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # one message at a time per process, so a long job never hoards short ones
        "worker_prefetch_multiplier": 1,
        # the bound on a pool process's memory (KiB): replaced after the task that crossed it
        "worker_max_memory_per_child": settings.worker_max_memory_mb * 1024,
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "task_annotations": long_task_annotations(settings),
        # routing: names map to queues so send_task(name) needs no task import
        "task_default_queue": Queue.DEFAULT.value,
        "task_queues": tuple(_kombu_queue(q) for q in Queue),
        "task_routes": task_routes(),
        "task_create_missing_queues": False,
        # observability: Flower sees sent/started/succeeded for every task
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_track_started": True,
        "timezone": "UTC",
        "enable_utc": True,
    }
