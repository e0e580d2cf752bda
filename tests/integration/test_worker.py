"""A real prefork worker: it answers by name, consumes every queue, runs with the safe config."""

from __future__ import annotations

from typing import Any

import psutil
from celery import Celery
from celery.result import AsyncResult

from agentload.settings import get_settings
from agentload.tasknames import Queue, TaskName


def _inspect(app: Celery, worker: Any) -> Any:
    return app.control.inspect(destination=[worker.nodename], timeout=5)


def test_ping_by_name_is_answered_by_the_worker(celery_app: Celery, celery_worker: Any) -> None:
    result = celery_app.send_task(TaskName.PING.value)
    payload = result.get(timeout=10)

    assert payload["ok"] is True
    assert payload["hostname"] == celery_worker.nodename
    # answered by a prefork child of the worker we started, not by some other process
    children = {p.pid for p in psutil.Process(celery_worker.process.pid).children(recursive=True)}
    assert payload["pid"] in children


def test_every_queue_is_consumed(celery_app: Celery, celery_worker: Any) -> None:
    results = {queue: celery_app.send_task(TaskName.PING.value, queue=queue.value) for queue in Queue}

    for queue, result in results.items():
        assert result.get(timeout=10)["hostname"] == celery_worker.nodename
        # result_extended records the routing key the message was delivered with
        assert AsyncResult(result.id, app=celery_app).queue == queue.value


def test_routing_table_sends_names_to_their_queue(celery_app: Celery) -> None:
    router = celery_app.amqp.router
    assert router.route({}, TaskName.REFRESH.value)["queue"].name == Queue.CATALOG.value
    assert router.route({}, TaskName.BENCHMARK.value)["queue"].name == Queue.LONG.value
    assert router.route({}, TaskName.FLUSH_CACHE_STATS.value)["queue"].name == Queue.METRICS.value


def test_live_worker_config_is_safe(celery_app: Celery, celery_worker: Any) -> None:
    inspect = _inspect(celery_app, celery_worker)
    conf = inspect.conf(with_defaults=True)[celery_worker.nodename]

    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_max_memory_per_child"] == get_settings().worker_max_memory_mb * 1024  # KiB
    assert conf["task_serializer"] == "json"
    assert conf["result_serializer"] == "json"
    assert list(conf["accept_content"]) == ["json"]
    assert conf["task_track_started"] is True
    assert conf["worker_send_task_events"] is True
    visibility = conf["broker_transport_options"]["visibility_timeout"]
    assert visibility > conf["task_time_limit"]
    assert all(visibility > limits["time_limit"] for limits in conf["task_annotations"].values())

    stats = inspect.stats()[celery_worker.nodename]
    assert stats["pool"]["implementation"].endswith("prefork:TaskPool")
    assert stats["pool"]["max-concurrency"] == 2
    assert stats["prefetch_count"] == 2  # concurrency x prefetch multiplier 1


def test_worker_consumes_all_queues_and_registers_all_tasks(celery_app: Celery, celery_worker: Any) -> None:
    inspect = _inspect(celery_app, celery_worker)

    active = {q["name"] for q in inspect.active_queues()[celery_worker.nodename]}
    registered = set(inspect.registered()[celery_worker.nodename])

    assert active == {q.value for q in Queue}
    assert {name.value for name in TaskName} == {name for name in registered if not name.startswith("celery.")}
