"""Open-model HTTP load: requests leave at their scheduled times, whatever the server does.

Request ``i`` is due at ``start + i / rate``. A pool of ``users`` virtual users caps the
requests in flight (and sizes the keep-alive connection pool); when every user is busy the
due requests wait for one, and their latency still counts from the *intended* time. This
is what avoids coordinated omission: a closed loop would quietly stop sending while the
server stalls and report only the one slow request, hiding the queue everyone else saw.

Requests go out through ``clients.open_sender``: aiohttp's keep-alive pool for real targets
(its client-side cost, measured there, is part of every latency we report), httpx for
injected test transports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from agentload.measure.loadgen.clients import HttpClient, Sender, classify, open_sender
from agentload.measure.loadgen.recorder import Outcome, Recorder
from agentload.measure.loadgen.results import LoadResult
from agentload.measure.loadgen.scenarios import RequestSpec, ScenarioFn
from agentload.measure.loadgen.spec import LoadSpec, TargetRefused, check_target
from agentload.settings import get_settings

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, int, int, int], None]
_POLL_S = 0.05
_LEAD_S = 0.01


class CancelFlag(Protocol):
    """Anything with ``is_set()``: ``threading.Event`` (from another thread) or ``asyncio.Event``."""

    def is_set(self) -> bool: ...


class _Run:
    """State of one run: idle users, per-user sequence numbers and in-flight tasks."""

    def __init__(self, sender: Sender, rec: Recorder, scenario: ScenarioFn, users: int,
                 cancel: CancelFlag | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.sender, self.rec, self.scenario, self.cancel = sender, rec, scenario, cancel
        self.idle: asyncio.Queue[int] = asyncio.Queue()
        for user in range(users):
            self.idle.put_nowait(user)
        self.seqs = [0] * users
        self.tasks: dict[asyncio.Task[None], bool] = {}
        self.refused: TargetRefused | None = None
        self.cancelled_at: float | None = None

    def stopping(self) -> bool:
        if self.cancelled_at is None and self.cancel is not None and self.cancel.is_set():
            self.cancelled_at = self.loop.time()
        return self.cancelled_at is not None or self.refused is not None

    async def _sleep_until(self, when: float) -> bool:
        """Wait for ``when``; False if the run must stop first."""
        while not self.stopping():
            delay = when - self.loop.time()
            if delay <= 0:
                return True
            await asyncio.sleep(min(delay, _POLL_S))
        return False

    async def _acquire(self, deadline: float) -> int | None:
        while not self.stopping() and self.loop.time() < deadline:
            try:
                return self.idle.get_nowait()
            except asyncio.QueueEmpty:
                pass
            try:
                return await asyncio.wait_for(self.idle.get(), timeout=_POLL_S)
            except TimeoutError:
                continue
        return None

    async def schedule(
        self, start: float, interval: float, n_warm: int, n_meas: int, deadline: float
    ) -> None:
        """Issue every request at its due time until done, cancelled or past the deadline."""
        total = n_warm + n_meas
        for i in range(total):
            intended = start + i * interval
            user = await self._acquire(deadline) if await self._sleep_until(intended) else None
            if user is None:
                if not self.stopping():  # deadline: the rest could not be sent in time
                    self.rec.dropped += total - max(i, n_warm)
                return
            measured = i >= n_warm
            request = self.scenario(user, self.seqs[user])
            self.seqs[user] += 1
            self.rec.on_sent(intended, self.loop.time(), measured)
            task = self.loop.create_task(self._send(user, request, intended, measured))
            self.tasks[task] = measured
            task.add_done_callback(self.tasks.pop)

    async def _send(self, user: int, request: RequestSpec, intended: float, measured: bool) -> None:
        sent_at = self.loop.time()
        status: int | None = None
        error: str | None = None
        nbytes = 0
        try:
            status, nbytes = await self.sender.send(user, request)
            if not 200 <= status < 300:  # a redirect is not the answer asked for (redirects are not followed)
                error = f"status_{status}"
        except TargetRefused as exc:
            self.refused, error = exc, "refused"
        except Exception as exc:  # every failure is data, never a crash of the run
            error = classify(exc)
        finally:
            self.idle.put_nowait(user)
        ended = self.loop.time()
        self.rec.on_done(Outcome(request.label, intended, sent_at, ended, status, error, nbytes, measured))

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight requests (each bounded by its own timeout) unless stopped."""
        end = self.loop.time() + timeout
        while self.tasks and not self.stopping() and self.loop.time() < end:
            await asyncio.wait(list(self.tasks), timeout=_POLL_S)

    async def abort(self) -> None:
        """Cancel what is still in flight and count the measured ones as cancelled."""
        pending = list(self.tasks.items())
        self.rec.cancelled += sum(1 for _, measured in pending if measured)
        for task, _ in pending:
            task.cancel()
        await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)


async def _ticker(cb: ProgressCallback, rec: Recorder, start: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(1.0)
        _report(cb, loop.time() - start, rec)


def _report(cb: ProgressCallback, elapsed: float, rec: Recorder) -> None:
    try:
        cb(max(elapsed, 0.0), rec.live_sent, rec.live_completed, rec.live_errors)
    except Exception:  # a broken progress display must not abort a load test
        log.exception("load progress callback failed")


async def run_load(
    spec: LoadSpec,
    scenario: ScenarioFn,
    progress_cb: ProgressCallback | None = None,
    cancel_event: CancelFlag | None = None,
    *,
    allowed_base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    http_client: HttpClient = "auto",
) -> LoadResult:
    """Run one open-model load test; refuses non-local targets before opening any socket.

    ``allowed_base_url`` defaults to ``Settings.api_base_url``. ``transport`` is for tests
    or in-process targets (it implies httpx). ``http_client`` forces ``aiohttp`` or ``httpx``
    (e.g. to compare them); ``auto`` takes aiohttp unless a transport is injected.
    ``progress_cb(elapsed_s, sent, completed, errors)`` is called about once per second
    (counts include warm-up) and once at the end.
    """
    allowed = allowed_base_url if allowed_base_url is not None else get_settings().api_base_url
    check_target(spec.base_url, allowed)
    loop = asyncio.get_running_loop()
    interval = 1.0 / spec.rate
    start = loop.time() + _LEAD_S
    measure_start = start + spec.warmup_requests * interval
    deadline = measure_start + spec.duration_s + spec.timeout_s
    started_at = time.time() + _LEAD_S
    rec = Recorder(measure_start)
    async with open_sender(spec, transport, http_client) as sender:
        run = _Run(sender, rec, scenario, spec.users, cancel_event)
        ticker = loop.create_task(_ticker(progress_cb, rec, start)) if progress_cb else None
        try:
            await run.schedule(start, interval, spec.warmup_requests, spec.measured_requests, deadline)
            await run.drain(spec.timeout_s + 1.0)
        finally:
            if ticker is not None:
                ticker.cancel()
            await run.abort()
    if run.refused is not None:
        raise run.refused
    if progress_cb is not None:
        _report(progress_cb, loop.time() - start, rec)
    cancelled = run.cancelled_at is not None
    # the window is the scheduled duration, stretched when responses came back late
    stretched = max(rec.last_end, measure_start + spec.duration_s)
    window_end = run.cancelled_at if run.cancelled_at is not None else stretched
    return rec.result(
        scenario=str(getattr(scenario, "name", spec.scenario)),
        spec=spec.model_dump(mode="json"),
        scheduled=rec.sent + rec.dropped if cancelled else spec.measured_requests,
        complete=not cancelled,
        window_end=window_end,
        started_at=started_at,
        offered_rate=spec.rate,
    )


def run_load_sync(
    spec: LoadSpec,
    scenario: ScenarioFn,
    progress_cb: ProgressCallback | None = None,
    cancel_event: CancelFlag | None = None,
    *,
    allowed_base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    http_client: HttpClient = "auto",
) -> LoadResult:
    """Blocking ``run_load`` on a fresh event loop (CLI, Celery tasks); not for use inside a loop."""
    return asyncio.run(run_load(spec, scenario, progress_cb, cancel_event, allowed_base_url=allowed_base_url,
                                transport=transport, http_client=http_client))
