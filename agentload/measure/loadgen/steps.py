"""Step tests and stress ramps: the same scenario at growing numbers of users.

Each step is an ordinary open-model run at ``users x rate_per_user`` requests/s, so the
curves of latency, throughput and errors against users come from comparable runs. Every
step spec is validated against the limits *before* the first request, so a ramp can never
grow past what the operator allows halfway through.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

import httpx

from agentload.measure.loadgen.results import StepResult
from agentload.measure.loadgen.runner import CancelFlag, ProgressCallback, run_load
from agentload.measure.loadgen.scenarios import ScenarioFn
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec

DEFAULT_USER_STEPS: tuple[int, ...] = (1, 5, 10, 25, 50, 100, 200)
StepCallback = Callable[[StepResult], None]
P = ParamSpec("P")
T = TypeVar("T")


def step_specs(
    base: LoadSpec, users_steps: Sequence[int], rate_per_user: float, step_duration_s: float,
    limits: LoadLimits | None = None,
) -> list[LoadSpec]:
    """One validated spec per step (raises ``ValueError`` naming the first step out of bounds)."""
    if not users_steps:
        raise ValueError("users_steps must not be empty")
    lim = limits if limits is not None else LoadLimits.from_settings()
    fields = base.model_dump()
    return [
        LoadSpec.with_limits(
            lim, **{**fields, "users": u, "rate": u * rate_per_user, "duration_s": step_duration_s}
        )
        for u in users_steps
    ]


def breach_reason(step: StepResult, max_error_rate: float, max_p99_ms: float) -> str | None:
    """Why a step counts as overloaded, or None."""
    reasons = []
    if step.error_rate > max_error_rate:
        reasons.append(f"error rate {step.error_rate:.2%} > {max_error_rate:.2%}")
    if step.p99_ms > max_p99_ms:
        reasons.append(f"p99 {step.p99_ms:.1f} ms > {max_p99_ms:g} ms")
    return "; ".join(reasons) or None


async def _run_steps(
    specs: Sequence[LoadSpec], scenario: ScenarioFn, *, stop_on_breach: bool, max_error_rate: float,
    max_p99_ms: float, progress_cb: ProgressCallback | None, step_cb: StepCallback | None,
    cancel_event: CancelFlag | None, allowed_base_url: str | None,
    transport: httpx.AsyncBaseTransport | None, pause_s: float,
) -> list[StepResult]:
    results: list[StepResult] = []
    for index, spec in enumerate(specs):
        if cancel_event is not None and cancel_event.is_set():
            break
        if index and pause_s > 0:
            await asyncio.sleep(pause_s)  # let queues and connections settle between steps
        result = await run_load(spec, scenario, progress_cb, cancel_event,
                                allowed_base_url=allowed_base_url, transport=transport)
        step = StepResult.from_result(result, spec.users, spec.rate)
        step.breach = breach_reason(step, max_error_rate, max_p99_ms)
        results.append(step)
        if step_cb is not None:
            step_cb(step)
        if not result.complete or (stop_on_breach and step.breach):
            break
    return results


async def step_test(
    base: LoadSpec,
    scenario: ScenarioFn,
    users_steps: Sequence[int] = DEFAULT_USER_STEPS,
    rate_per_user: float = 10.0,
    step_duration_s: float = 10.0,
    *,
    limits: LoadLimits | None = None,
    progress_cb: ProgressCallback | None = None,
    step_cb: StepCallback | None = None,
    cancel_event: CancelFlag | None = None,
    allowed_base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    pause_s: float = 0.0,
    max_error_rate: float = 0.01,
    max_p99_ms: float = 1000.0,
) -> list[StepResult]:
    """Run every step (breaches are marked, not stopped on); stops early only when cancelled."""
    specs = step_specs(base, users_steps, rate_per_user, step_duration_s, limits)
    return await _run_steps(specs, scenario, stop_on_breach=False, max_error_rate=max_error_rate,
                            max_p99_ms=max_p99_ms, progress_cb=progress_cb, step_cb=step_cb,
                            cancel_event=cancel_event, allowed_base_url=allowed_base_url,
                            transport=transport, pause_s=pause_s)


def ramp_users(start: int, max_users: int, factor: float = 2.0) -> list[int]:
    """Geometric user steps from ``start`` up to and including ``max_users``."""
    if start < 1 or max_users < start or factor <= 1.0:
        raise ValueError("ramp_users needs 1 <= start <= max_users and factor > 1")
    steps = [start]
    while steps[-1] < max_users:
        steps.append(min(max_users, max(steps[-1] + 1, int(steps[-1] * factor))))
    return steps


async def stress_ramp(
    base: LoadSpec,
    scenario: ScenarioFn,
    users_steps: Sequence[int] | None = None,
    rate_per_user: float = 10.0,
    step_duration_s: float = 10.0,
    *,
    max_users: int | None = None,
    max_error_rate: float = 0.01,
    max_p99_ms: float = 1000.0,
    limits: LoadLimits | None = None,
    progress_cb: ProgressCallback | None = None,
    step_cb: StepCallback | None = None,
    cancel_event: CancelFlag | None = None,
    allowed_base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    pause_s: float = 0.0,
) -> list[StepResult]:
    """Grow users until error rate > ``max_error_rate``, p99 > ``max_p99_ms`` or ``max_users``.

    Without ``users_steps`` users double from ``base.users``; steps whose rate would exceed
    the rate limit are left out rather than failing the whole ramp. The breaching step is
    the last one returned, with its ``breach`` reason set.
    """
    lim = limits if limits is not None else LoadLimits.from_settings()
    top = min(max_users if max_users is not None else lim.max_users, lim.max_users)
    steps = list(users_steps) if users_steps is not None else ramp_users(min(base.users, top), top)
    steps = [u for u in steps if u <= top and u * rate_per_user <= lim.max_rate]
    specs = step_specs(base, steps, rate_per_user, step_duration_s, lim)
    return await _run_steps(specs, scenario, stop_on_breach=True, max_error_rate=max_error_rate,
                            max_p99_ms=max_p99_ms, progress_cb=progress_cb, step_cb=step_cb,
                            cancel_event=cancel_event, allowed_base_url=allowed_base_url,
                            transport=transport, pause_s=pause_s)


def _blocking(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """A blocking twin of an async entry point, for the CLI and Celery tasks."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


step_test_sync = _blocking(step_test)
stress_ramp_sync = _blocking(stress_ramp)
