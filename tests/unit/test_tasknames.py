"""Task names are stated once (``agentload.tasknames``) and the Celery app agrees with them.

The workers' registry is read from a fresh interpreter that imports ``workers.app`` exactly as
``celery -A workers.app`` does, so the test process keeps no Celery app, signal handlers or
cached settings of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentload.api.enqueue import build_client
from agentload.settings import Settings
from agentload.tasknames import LONG_QUEUES, METRICS_QUEUES, ROUTES, Queue, TaskName, names_on, queue_of, task_routes

ROOT = Path(__file__).resolve().parents[2]
_READ_REGISTRY = """
import json
from workers.app import app
app.loader.import_default_modules()
print(json.dumps({
    name: {"queue": task.queue, "routed": app.amqp.router.route({}, name)["queue"].name,
           "annotations": app.conf.task_annotations.get(name, {})}
    for name, task in app.tasks.items() if not name.startswith("celery.")
}))
"""


@pytest.fixture(scope="module")
def registry() -> dict[str, dict[str, Any]]:
    """``{task name: {"queue", "routed", "annotations"}}`` of every task the worker app registers."""
    done = subprocess.run([sys.executable, "-c", _READ_REGISTRY], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_every_task_name_is_routed_to_a_queue() -> None:
    assert set(ROUTES) == set(TaskName)
    assert all(isinstance(queue_of(name), Queue) for name in TaskName)


def test_every_registered_task_is_a_task_name_on_its_routed_queue(registry: dict[str, dict[str, Any]]) -> None:
    for name, task in registry.items():
        member = TaskName(name)  # ValueError: a task registered under a name the enum does not have
        assert task["queue"] == task["routed"] == queue_of(member).value, name


def test_every_task_name_has_a_registered_task(registry: dict[str, dict[str, Any]]) -> None:
    assert set(registry) == {member.value for member in TaskName}


def test_long_and_metrics_tasks_get_their_time_limits(registry: dict[str, dict[str, Any]]) -> None:
    long, metrics = set(names_on(LONG_QUEUES)), set(names_on(METRICS_QUEUES))
    assert long and metrics and not long & metrics
    for name, task in registry.items():
        assert bool(task["annotations"]) == (name in long | metrics), name
    limits = {name: task["annotations"]["time_limit"] for name, task in registry.items() if task["annotations"]}
    assert min(limits[n] for n in long) > max(limits[n] for n in metrics)


def test_the_api_client_routes_every_name_like_the_workers(clean_agentload_env: pytest.MonkeyPatch) -> None:
    client = build_client(Settings())
    try:
        for member in TaskName:
            assert client.amqp.router.route({}, member.value)["queue"].name == queue_of(member).value
        assert client.conf.task_routes == task_routes()
    finally:
        client.close()
