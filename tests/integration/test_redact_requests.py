"""Users' free-text requests stay out of task messages (``AGENTLOAD_REDACT_REQUEST_TEXT``).

A real worker computes a free-text miss enqueued by the API; what Flower and anyone watching
the events see (the ``task-sent`` / ``task-received`` events' arguments), and what the result
backend stores beside the result (``result_extended``), must not hold the text, while the
selection the worker stores is the one the text asks for. With the setting off, the same
checks find the text: they can fail.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from celery import Celery

from agentload import jobs, keys
from agentload.api.app import create_app
from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.selection.engine import SelectionConfig, Selector
from agentload.settings import Settings
from tests.harness import publish_real_catalog

TOKEN = "test-token-0123456789abcdef"
SEL = "/api/v1/agents/optimized-loading"
BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"


class EventTap:
    """Every Celery event on the broker while open (what Flower receives), captured in a thread."""

    def __init__(self, app: Celery) -> None:
        self.app, self.events, self.ready = app, [], threading.Event()
        self.receiver: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.app.connection_for_read() as conn:
            self.receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self.ready.set()
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> EventTap:
        self.thread.start()
        assert self.ready.wait(10)
        time.sleep(0.3)  # the receiver's queue is bound before anything is sent
        return self

    def __exit__(self, *_: object) -> None:
        self.receiver.should_stop = True
        self.thread.join(10)

    def of(self, task_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("uuid") == task_id]


@pytest.fixture
def tap(celery_app: Celery) -> Iterator[EventTap]:
    with EventTap(celery_app) as events:
        yield events


async def _miss(settings: Settings, request: str) -> dict[str, Any]:
    """Enqueue a free-text miss through the API, wait for the worker; the 202 body, the task's
    final state and the selection served afterwards."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        accepted = (await http.get(SEL, params={"request": request})).json()
        deadline = time.monotonic() + 30
        while not (state := (await http.get(accepted["poll_url"])).json())["ready"]:
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.05)
        served = (await http.get(SEL, params={"request": request})).json()
    return {"accepted": accepted, "state": state, "served": served}


@pytest.fixture
async def settings(redis_url: str, tmp_path: Path, redis_client: redis.Redis,
                   celery_worker: Any) -> AsyncIterator[Settings]:
    publish_real_catalog(redis_url)
    yield Settings(env="test", redis_url=redis_url, api_token=TOKEN, database_url=f"sqlite:///{tmp_path / 'db'}")


def _seen(tap: EventTap, redis_client: redis.Redis, task_id: str) -> tuple[list[dict[str, Any]], str]:
    """The task's events (once the worker's have arrived) and its stored result meta, raw."""
    deadline = time.monotonic() + 10
    while {"task-sent", "task-received", "task-succeeded"} - {e["type"] for e in tap.of(task_id)}:
        assert time.monotonic() < deadline, [e["type"] for e in tap.of(task_id)]
        time.sleep(0.05)
    return tap.of(task_id), str(redis_client.get(f"celery-task-meta-{task_id}"))


async def test_given_redaction_on_when_a_free_text_miss_is_computed_then_events_and_meta_hold_only_a_key(
    settings: Settings, redis_client: redis.Redis, tap: EventTap
) -> None:
    assert settings.redact_request_text  # the default
    request = f"draft the product requirements for our confidential payroll feature {uuid.uuid4().hex[:8]}"
    done = await _miss(settings, request)
    task_id = done["accepted"]["task_id"]
    assert done["state"]["state"] == "SUCCESS" and done["state"]["result"]["stored"] is True

    events, meta = _seen(tap, redis_client, task_id)
    received = next(e for e in events if e["type"] == "task-received")
    assert "request_key" in received["kwargs"] and "'request':" not in received["kwargs"]
    assert orjson.loads(meta)["kwargs"]["request_key"]  # the result backend stores the key, not the text
    for shown in [*(str(e) for e in events), meta]:
        assert request not in shown and "payroll" not in shown

    # the selection is the one the text asks for, and the text left Redis once it was stored
    expected = Selector(load_catalog(BUNDLED), SelectionConfig.from_settings(settings)).select(
        Context(request=request))
    assert done["served"]["cache"] == "hit"
    assert [a["id"] for a in done["served"]["agents"]] == expected.agent_ids
    assert done["state"]["result"]["agents"] == expected.agent_ids
    assert redis_client.keys(keys.request_text_key("*")) == []


async def test_given_redaction_off_when_a_free_text_miss_is_computed_then_the_text_is_in_the_events(
    settings: Settings, redis_client: redis.Redis, tap: EventTap
) -> None:
    request = f"write the architecture for our internal billing service {uuid.uuid4().hex[:8]}"
    done = await _miss(settings.model_copy(update={"redact_request_text": False}), request)
    events, meta = _seen(tap, redis_client, done["accepted"]["task_id"])
    assert request in next(e for e in events if e["type"] == "task-received")["kwargs"]
    assert orjson.loads(meta)["kwargs"]["context"]["request"] == request
    assert done["served"]["cache"] == "hit"


def test_given_an_expired_request_text_when_the_task_runs_then_it_says_so_and_stores_nothing(
    redis_client: redis.Redis, redis_url: str
) -> None:
    publish_real_catalog(redis_url)
    result = jobs.select_and_cache({}, request_key="never-stored")
    assert result == {"stored": False, "reason": "the request text expired before a worker took this task; ask "
                                                 "again"}
