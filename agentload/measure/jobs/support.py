"""What the long performance jobs share: cancel flags, the catalog's contexts, run records.

The jobs run inside Celery tasks but import no Celery: a job learns it must stop from a Redis
flag (``keys.job_cancel_key``, set by the API's cancel endpoint) that a small thread polls,
and an interruption raised into it (a soft time limit, a terminate) is recognised by type so
the run's row can say ``incomplete`` with whatever was measured before it re-raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import redis

from agentload import keys
from agentload.context import ResolverData
from agentload.measure.loadgen.scenarios import (
    SELECTION_PATH,
    RequestSpec,
    Scenario,
    journeys,
    mixed,
    preload_writes,
    selection_reads,
)
from agentload.publish.contexts import enumerate_contexts
from agentload.reader.codec import text
from agentload.resolve import resolve
from agentload.settings import Settings
from models import repository

log = logging.getLogger("agentload.jobs")

#: the callback a long job reports with; the Celery task turns it into ``PROGRESS`` state
Progress = Callable[[dict[str, Any]], None]

#: synthetic traffic names this user on selection reads, so its events never pass for real use
LOADGEN_USER = "agentload-loadgen"
CANCEL_POLL_S = 0.5
#: raised *into* a job by the worker (soft time limit, terminate): the run was interrupted,
#: not wrong. Matched by name because ``agentload`` may not import Celery (or billiard).
INTERRUPTS = frozenset({"SoftTimeLimitExceeded", "TimeLimitExceeded", "Terminated", "WorkerLostError"})
ABANDON_MARGIN_S = 60


class Cancelled(Exception):
    """The job saw its cancel flag between two units of work."""


class Terminated(BaseException):
    """SIGTERM arrived while the load generator ran (a revoke with ``terminate=True``)."""


def new_job_id(given: str | None) -> str:
    """The cancel key's id: the Celery task id the API chose, or a fresh one for local runs."""
    return given or uuid.uuid4().hex


class CancelWatcher:
    """Polls the job's cancel key in a thread; ``is_set()`` never touches Redis.

    The load generator checks its cancel flag every 50 ms from inside its event loop; a
    Redis round trip there would stall the loop, so a thread polls every ``interval_s`` and
    the loop only reads an ``Event``. A Redis error while polling is logged, not fatal.
    """

    def __init__(self, r: redis.Redis, job_id: str, interval_s: float = CANCEL_POLL_S) -> None:
        self.r, self.key, self.interval_s = r, keys.job_cancel_key(job_id), interval_s
        self._set, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """Check Redis now; True (and stays True) once cancellation was asked for."""
        if not self._set.is_set():
            try:
                if self.r.exists(self.key):
                    self._set.set()
            except redis.RedisError as exc:
                log.warning("cannot read cancel flag %s: %s", self.key, exc)
        return self._set.is_set()

    def is_set(self) -> bool:
        return self._set.is_set()

    def interrupt(self) -> None:
        """Stop the run from this process (a signal handler): no Redis round trip."""
        self._set.set()

    def raise_if_set(self) -> None:
        """Between units of work: stop here if asked to."""
        if self.poll():
            raise Cancelled("cancelled on request")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.poll():
                return

    def start(self) -> CancelWatcher:
        self.poll()
        self._thread = threading.Thread(target=self._loop, name="cancel-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval_s)
            self._thread = None


@contextlib.contextmanager
def deferred_interrupts(cancel: CancelWatcher) -> Iterator[None]:
    """Turn SIGUSR1/SIGTERM into a cooperative stop while an event loop runs, then re-raise.

    The prefork pool raises ``SoftTimeLimitExceeded`` into a task from a SIGUSR1 handler
    (also used by ``revoke(terminate=True, signal="SIGUSR1")``); SIGTERM is the default
    terminate signal. Raised inside asyncio, such an exception lands in whatever callback or
    task step is running and is swallowed there (the load generator counts it as a request
    error), so the job would run on to the hard limit and be killed without a record. Here
    the signal only stops the load generator (within its 50 ms poll); once the loop has
    returned with its partial result, the interruption is raised for real: SIGUSR1 through
    the pool's own handler, SIGTERM as ``Terminated``. Only in the main thread (signals).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, Any]] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append((signum, frame))
        cancel.interrupt()

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGUSR1, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not caught:
        return
    signum, frame = caught[0]
    handler = previous[signal.Signals(signum)]
    if signum == signal.SIGUSR1 and callable(handler):
        handler(signum, frame)  # the pool's handler: raises SoftTimeLimitExceeded here, outside the loop
    raise Terminated(f"interrupted by {signal.Signals(signum).name}")


@contextlib.contextmanager
def quiet_http_logs() -> Iterator[None]:
    """httpx logs every request at INFO: thousands of lines per second of load in a worker log."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def interrupted(exc: BaseException) -> bool:
    """True when ``exc`` stopped the run from outside (cancel, time limit, terminate, Ctrl-C)."""
    return isinstance(exc, Cancelled) or not isinstance(exc, Exception) or type(exc).__name__ in INTERRUPTS


def published_resolver(r: redis.Redis) -> tuple[str, ResolverData]:
    """(current version, its resolver data); ``LookupError`` when nothing is published."""
    version = text(r.get(keys.CURRENT_VERSION))
    raw = r.get(keys.resolver_key(version)) if version else None
    if version is None or raw is None:
        raise LookupError("no catalog version is published yet: run the preload (agentload.preload) first")
    return version, ResolverData.model_validate_json(raw)


def catalog_contexts(r: redis.Redis) -> list[dict[str, Any]]:
    """Every distinct structured context the live version precomputes, as query-ready dicts.

    Taken from the *published* resolver data (the same enumeration the preload uses), so
    load tests read what the catalog serves without naming any scenario file. The empty
    context is left out: without parameters the endpoint answers its status, not a selection.
    """
    _, data = published_resolver(r)
    seen: dict[str, dict[str, Any]] = {}
    for ctx in enumerate_contexts(data):
        body = ctx.model_dump(mode="json", exclude_defaults=True)
        resolved = resolve(ctx, data)
        if body and not resolved.unknown:
            seen.setdefault(resolved.key(), body)
    if not seen:
        raise LookupError("the published catalog enumerates no structured context")
    return list(seen.values())


def tagged(scenario: Scenario, user_id: str = LOADGEN_USER) -> Scenario:
    """``scenario`` with ``user_id`` on every selection read (its selection events say so)."""

    def make(user: int, seq: int) -> RequestSpec:
        spec = scenario(user, seq)
        if spec.method == "GET" and spec.path == SELECTION_PATH:
            return dataclasses.replace(spec, params=[*spec.params, ("user_id", user_id)])
        return spec

    return Scenario(scenario.name, make)


def token_for(base_url: str, settings: Settings) -> str:
    """The API token, but only for the configured API (same scheme, host and port): a load
    test aimed at another loopback port must not hand that service our secret ("" otherwise)."""
    def origin(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)

    return settings.api_token if origin(base_url) == origin(settings.api_base_url) else ""


def build_scenario(name: str, contexts: Sequence[Mapping[str, Any]], token: str) -> Scenario:
    """The loadgen scenario ``name`` over ``contexts``, tagged as synthetic traffic."""
    builders = {
        "selection_reads": lambda: selection_reads(contexts, token=token),
        "preload_writes": lambda: preload_writes(contexts, token),
        "journeys": lambda: journeys(contexts, token),
        "mixed": lambda: mixed(contexts, token),
    }
    if name not in builders:
        raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(builders)}")
    return tagged(builders[name]())


def strategy_flag(r: redis.Redis, settings: Settings) -> str:
    """The strategy the API serves right now (runtime flag, else the settings default)."""
    return text(r.get(keys.STRATEGY)) or settings.strategy


def mark_abandoned(db: str, settings: Settings) -> int:
    """Close runs left ``running`` by a worker that was killed (past the hard time limit).

    A SIGKILL (hard limit, OOM) gives a job no chance to write its status; without this
    sweep such a row would claim to be running forever.
    """
    limit = timedelta(seconds=settings.long_task_time_limit_s + ABANDON_MARGIN_S)
    now = datetime.now(UTC)
    closed = 0
    for run in repository.list_benchmarks(db, status="running", limit=200):
        started = datetime.fromisoformat(run["started_at"])
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        if now - started > limit:
            repository.update_benchmark(db, run["id"], status="incomplete",
                                        error="abandoned: still running after the hard time limit (worker killed?)")
            closed += 1
    return closed


def close_run(db: str, benchmark_id: str, exc: BaseException, *, results: Mapping[str, Any],
              resources: Mapping[str, Any] | None) -> str:
    """Record how a run ended by exception: ``incomplete`` when interrupted, else ``failed``.

    Called from an ``except BaseException`` block that re-raises; a failure to write here
    is logged and swallowed so the original exception is the one that propagates.
    """
    status = "incomplete" if interrupted(exc) else "failed"
    try:
        repository.update_benchmark(db, benchmark_id, status=status, results=dict(results),
                                    resource_utilization=dict(resources) if resources is not None else None,
                                    error=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception:
        log.exception("could not record the end of run %s (status %s)", benchmark_id, status)
    return status
