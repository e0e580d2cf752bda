"""A Celery *client*: send tasks by name and read their state, never import task code.

Why a separate, minimal Celery app instead of ``workers.app``: the web process must not
import worker code, and its publishing must fail fast. The broker and result backend are
the same Redis as the cache, with ~1 s socket timeouts and no publish retries, so during a
Redis outage ``send`` raises ``redis.exceptions.ConnectionError`` quickly and the API's
handler turns it into a 503 instead of hanging a request for Celery's default retry budget.

Celery's Redis backend subscribes (pub/sub) to every sent task's result channel so that
``AsyncResult.get()`` can block; a web process never blocks on results, and those
subscriptions would pile up per task, so ``ResultReader`` turns that subscription off.
Celery calls are synchronous: they run in a worker thread so they never stall the loop.

Celery reports an id its backend has never seen as ``PENDING``, whether the task is queued or
the id was never issued. ``send`` therefore records each id it issues (``keys.issued_task_key``)
for the result's lifetime, and ``state`` answers None for a ``PENDING`` id it never issued,
which the API turns into a 404. Why the result's lifetime: a task's result outlives the record
(it is stored after the send and kept as long), so a finished task never looks ``PENDING``
again; the price is a 404 for a task still queued after that long (a backlog of an hour).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import anyio.to_thread
from celery import Celery
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from agentload import keys
from agentload.settings import Settings
from agentload.tasknames import Queue, TaskName, queue_of, task_routes

READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


class ResultReader(RedisBackend):  # type: ignore[misc]
    """Redis result backend without the per-task pub/sub subscription (reads only)."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None


def build_client(settings: Settings, timeout_s: float = 1.0) -> Celery:
    """A JSON-only Celery app for ``send_task``/``AsyncResult`` with fail-fast timeouts."""
    app = Celery("agentload-api", broker=settings.redis_url,
                 backend=f"{ResultReader.__module__}:ResultReader+{settings.redis_url}")
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_publish_retry=False,
        broker_connection_retry=False,
        broker_connection_timeout=timeout_s,
        broker_transport_options={"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
                                  "max_retries": 0},
        redis_socket_timeout=timeout_s,
        redis_socket_connect_timeout=timeout_s,
        redis_retry_on_timeout=False,
        result_backend_always_retry=False,
        task_send_sent_event=True,  # Flower shows API-sent tasks as "sent"
        task_default_queue=Queue.DEFAULT.value,  # never Celery's unconsumed "celery" queue
        task_routes=task_routes(),
    )
    return app


class Enqueuer:
    """Sends tasks by name to their queue and reports task state for polling endpoints."""

    def __init__(self, app: Celery, issued_ttl: int = keys.TASK_RESULT_TTL_S) -> None:
        self.app = app
        self.issued_ttl = issued_ttl

    async def send(self, name: TaskName, kwargs: dict[str, Any], task_id: str | None = None) -> str:
        """Publish ``name`` with JSON ``kwargs``; returns the task id (chosen here, so a
        caller can record it, e.g. for debounce, before the message is out)."""
        task_id = task_id or str(uuid.uuid4())
        try:
            await anyio.to_thread.run_sync(partial(self._send, name, kwargs, task_id))
        except OperationalError as exc:  # kombu wraps the redis error; one 503 path for both
            raise RedisConnectionError(f"cannot enqueue {name}: {exc}") from exc
        return task_id

    def _send(self, name: TaskName, kwargs: dict[str, Any], task_id: str) -> None:
        # recorded before publishing: a client polling at once must not get a 404
        self.app.backend.client.set(keys.issued_task_key(task_id), name, ex=self.issued_ttl)
        self.app.send_task(name.value, kwargs=kwargs, queue=queue_of(name).value, task_id=task_id)

    async def state(self, task_id: str) -> dict[str, Any] | None:
        """State, progress meta and result of a task as the result backend knows it; None for
        an id this service never issued (or issued longer ago than ``issued_ttl`` seconds)
        that the backend does not know either."""
        return await anyio.to_thread.run_sync(self._state, task_id)

    def _state(self, task_id: str) -> dict[str, Any] | None:
        res = AsyncResult(task_id, app=self.app)
        state = str(res.state)
        if state == "PENDING" and not self.app.backend.client.exists(keys.issued_task_key(task_id)):
            return None
        info = res.info
        out: dict[str, Any] = {"task_id": task_id, "state": state, "ready": state in READY_STATES,
                               "progress": None, "result": None, "error": None}
        if state == "SUCCESS":
            out["result"] = info
        elif state in ("FAILURE", "REVOKED"):
            out["error"] = f"{type(info).__name__}: {info}" if isinstance(info, BaseException) else str(info)
        elif isinstance(info, dict):
            out["progress"] = info
        return out

    def close(self) -> None:
        """Release broker and backend connection pools (idempotent)."""
        self.app.close()
