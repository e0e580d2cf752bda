"""Parameters of the long performance jobs, validated once for the API, the CLI and the jobs.

One pydantic model per job, so a request the API accepts is exactly a job the worker runs
(the API validates the body with the model, the job validates the params dict again: a
message from anywhere else gets the same checks). Static bounds live on the fields; bounds
that the *operator* sets (``AGENTLOAD_LOADTEST_MAX_*``) are checked by ``limit_errors``,
which names the field and the setting, so the API can answer 422 on the right field and the
job can refuse with the same words. This module does no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentload.context import Context
from agentload.measure.loadgen.spec import LoadLimits, check_target
from agentload.settings import Settings

JOB_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
PROCESS_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
ScenarioName = Literal["selection_reads", "preload_writes", "journeys", "mixed"]
Mode = Literal["load", "steps", "stress"]
StrategyName = Literal["full", "selective", "cached"]
ALL_STRATEGIES: tuple[StrategyName, ...] = ("full", "selective", "cached")
DEFAULT_STEPS = (1, 5, 10, 25, 50, 100, 200)
#: a step test must end well inside the long-task soft limit, leaving time to store results
TIME_MARGIN_S = 60.0

#: the ``kind`` of the ``performance_benchmarks`` row each load-test mode writes
KIND_BY_MODE: dict[str, str] = {"load": "load_test", "steps": "scalability", "stress": "stress"}

FieldError = tuple[str, str]  # (field, message)
#: static sanity bounds (the operator's tighter limits are checked by ``*_limit_errors``): they keep
#: absurd numbers, e.g. integers beyond float range, from reaching arithmetic as a 500
MAX_USERS = 1_000_000
MAX_RATE = 1_000_000.0
MAX_SECONDS = 86_400.0
MAX_PID = 4_194_304  # Linux pid_max ceiling


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, description="Label stored with the run")
    job_id: str | None = Field(default=None, pattern=JOB_ID,
                               description="Id the cancel flag is keyed on (the API sets its task id)")


class LoadTestParams(_Params):
    """One load run (``load``), a step test (``steps``) or a stress ramp (``stress``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"scenario": "selection_reads", "mode": "steps", "rate": 10, "steps": [1, 5, 10, 25], "step_duration_s": 5}]})

    scenario: ScenarioName = "selection_reads"
    mode: Mode = "load"
    users: int = Field(default=10, ge=1, le=MAX_USERS,
                       description="load: virtual users; stress: first step when no `steps`")
    rate: float = Field(default=10.0, gt=0, le=MAX_RATE,
                       description="load: total requests/s; steps/stress: requests/s per user")
    duration_s: float = Field(default=10.0, gt=0, le=MAX_SECONDS, description="measured window of a `load` run")
    steps: list[int] | None = Field(default=None, min_length=1, max_length=20,
                                    description="users per step (steps/stress), strictly increasing")
    step_duration_s: float = Field(default=5.0, gt=0, le=MAX_SECONDS, description="measured window of each step")
    warmup_s: float = Field(default=0.0, ge=0, le=60, description="same load before each measured window")
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="per request")
    base_url: str | None = Field(default=None, max_length=300,
                                 description="target; default settings.api_base_url; loopback or that URL only")
    pids: dict[str, int] = Field(default_factory=dict, max_length=16,
                                 description="processes to sample: name -> pid (e.g. api, redis)")
    max_p99_ms: float = Field(default=1000.0, gt=0, le=600_000, description="breach threshold (stress stops there)")
    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="breach threshold")

    @field_validator("steps")
    @classmethod
    def _increasing(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if any(u < 1 or u > MAX_USERS for u in value):
                raise ValueError(f"every step needs between 1 and {MAX_USERS} users")
            if any(b <= a for a, b in zip(value, value[1:], strict=False)):
                raise ValueError("steps must be strictly increasing")
        return value

    @field_validator("pids")
    @classmethod
    def _pids(cls, value: dict[str, int]) -> dict[str, int]:
        for name, pid in value.items():
            if not re.match(PROCESS_NAME, name):
                raise ValueError(f"process name {name!r} must match {PROCESS_NAME}")
            if not 1 <= pid <= MAX_PID:
                raise ValueError(f"pid of {name!r} must be between 1 and {MAX_PID}")
        return value

    @model_validator(mode="after")
    def _schedules_requests(self) -> Self:
        """Refuse at once what would schedule no request (rate x duration under one), instead
        of accepting the job and failing it in the worker."""
        if self.mode == "load" and round(self.rate * self.duration_s) < 1:
            raise ValueError(f"rate x duration_s = {self.rate * self.duration_s:g} schedules no request")
        first = (self.steps or [self.users])[0] if self.mode != "load" else 0
        if self.mode != "load" and round(first * self.rate * self.step_duration_s) < 1:
            raise ValueError(f"users x rate x step_duration_s = {first * self.rate * self.step_duration_s:g} "
                             "schedules no request in the first step")
        return self

    def user_steps(self) -> list[int]:
        """Users per step: the given steps, or the default ladder for a step test."""
        return list(self.steps) if self.steps is not None else list(DEFAULT_STEPS)


class BenchmarkParams(_Params):
    """The before/after benchmark: the same workload under each strategy, side by side."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"rate": 20, "duration_s": 3, "requests": ["write the PRD for our checkout redesign"]}]})

    contexts: list[Context] | None = Field(default=None, max_length=2000,
                                           description="workload; default: every structured context of the "
                                           "published catalog")
    requests: list[str] = Field(default_factory=list, max_length=500, description="free-text requests to add")
    strategies: list[StrategyName] = Field(default_factory=lambda: list(ALL_STRATEGIES),
                                           min_length=1, max_length=3)
    users: int = Field(default=10, ge=1, le=MAX_USERS)
    rate: float = Field(default=20.0, gt=0, le=MAX_RATE, description="requests/s per strategy run (modest, fixed)")
    duration_s: float = Field(default=3.0, gt=0, le=MAX_SECONDS, description="measured window per strategy")
    warmup_s: float = Field(default=0.5, ge=0, le=60)
    base_url: str | None = Field(default=None, max_length=300)
    api_pid: int | None = Field(default=None, ge=1, le=MAX_PID, description="API process to sample CPU of")

    @field_validator("strategies")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("strategies must be distinct")
        return value


class LabelledScenario(BaseModel):
    """One labelled case: a context and the agents a correct selection must include."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=200)
    context: Context
    required_agents: list[str] = Field(min_length=1, max_length=50)


class OptimizeParams(_Params):
    """Warm what is in use, then tune the free-text confidence rule on labelled cases."""

    scenarios: list[LabelledScenario] = Field(default_factory=list, max_length=5000)
    recall_target: float = Field(default=0.95, ge=0, le=1)
    close_ratios: list[float] | None = Field(default=None, min_length=1, max_length=40)
    min_scores: list[float] | None = Field(default=None, min_length=1, max_length=40)
    apply: bool = Field(default=True, description="store the tuned values and republish the catalog")
    warm: bool = True
    max_warm: int = Field(default=500, ge=0, le=10000, description="in-use contexts examined at most")

    @field_validator("close_ratios")
    @classmethod
    def _ratios(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(not 0 < v <= 1 for v in value):
            raise ValueError("close ratios must be within (0, 1]")
        return value

    @field_validator("min_scores")
    @classmethod
    def _scores(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(v < 0 for v in value):
            raise ValueError("minimum scores must be >= 0")
        return value


def _over(field: str, value: float, setting: str, limit: float) -> FieldError:
    return field, f"{field}={value:g} exceeds the limit {setting}={limit:g}"


def load_limit_errors(p: LoadTestParams, limits: LoadLimits, settings: Settings) -> list[FieldError]:
    """Every bound of ``p`` the operator's limits refuse (empty when the run is allowed)."""
    errors: list[FieldError] = []
    if p.warmup_s + (p.duration_s if p.mode == "load" else p.step_duration_s) > limits.max_duration_s:
        field = "duration_s" if p.mode == "load" else "step_duration_s"
        value = p.duration_s if p.mode == "load" else p.step_duration_s
        errors.append((field, f"{field} + warmup_s = {value + p.warmup_s:g} exceeds the limit "
                              f"loadtest_max_duration_s={limits.max_duration_s:g}"))
    if (p.mode == "load" or (p.mode == "stress" and p.steps is None)) and p.users > limits.max_users:
        errors.append(_over("users", p.users, "loadtest_max_users", limits.max_users))
    if p.mode == "load":
        if p.rate > limits.max_rate:
            errors.append(_over("rate", p.rate, "loadtest_max_rate", limits.max_rate))
        return errors
    steps = p.user_steps() if p.mode == "steps" else (p.steps or [])
    if steps and max(steps) > limits.max_users:
        errors.append(("steps", f"steps go up to {max(steps)} users, over the limit "
                                f"loadtest_max_users={limits.max_users}"))
    if p.mode == "steps" and steps and max(steps) * p.rate > limits.max_rate:
        errors.append(("rate", f"rate={p.rate:g} per user x {max(steps)} users = {max(steps) * p.rate:g} "
                               f"requests/s exceeds the limit loadtest_max_rate={limits.max_rate:g}"))
    if p.mode == "stress" and p.users * p.rate > limits.max_rate:
        errors.append(("rate", f"rate={p.rate:g} per user x {p.users} users exceeds the limit "
                               f"loadtest_max_rate={limits.max_rate:g}"))
    budget = settings.long_task_soft_time_limit_s - TIME_MARGIN_S
    n_steps = len(steps) if steps else 12  # a geometric ramp to the user limit has about a dozen steps
    total = n_steps * (p.step_duration_s + p.warmup_s + p.timeout_s)
    if total > budget:
        errors.append(("steps", f"{n_steps} steps x (step_duration_s + warmup_s + timeout_s) = {total:g} s exceeds "
                                f"the job budget long_task_soft_time_limit_s - {TIME_MARGIN_S:g} = {budget:g} s"))
    return errors


def benchmark_limit_errors(p: BenchmarkParams, limits: LoadLimits, settings: Settings) -> list[FieldError]:
    """Bounds of a benchmark run: each strategy's run is an ordinary load run."""
    errors: list[FieldError] = []
    if p.users > limits.max_users:
        errors.append(_over("users", p.users, "loadtest_max_users", limits.max_users))
    if p.rate > limits.max_rate:
        errors.append(_over("rate", p.rate, "loadtest_max_rate", limits.max_rate))
    if p.duration_s + p.warmup_s > limits.max_duration_s:
        errors.append(("duration_s", f"duration_s + warmup_s = {p.duration_s + p.warmup_s:g} exceeds the limit "
                                     f"loadtest_max_duration_s={limits.max_duration_s:g}"))
    too_long = [i for i, r in enumerate(p.requests) if len(r) > settings.max_request_chars]
    if too_long:
        errors.append(("requests", f"request {too_long[0]} is longer than max_request_chars="
                                   f"{settings.max_request_chars}"))
    return errors


def target_url(base_url: str | None, settings: Settings) -> str:
    """The URL load goes to; raises ``TargetRefused`` unless loopback or the configured API."""
    url = (base_url or settings.api_base_url).rstrip("/")
    check_target(url, settings.api_base_url)
    return url


def raise_for(errors: list[FieldError]) -> None:
    """Refuse a job whose parameters exceed the limits, naming every offending field."""
    if errors:
        raise ValueError("; ".join(f"{field}: {message}" for field, message in errors))


def as_params(model: BaseModel) -> dict[str, Any]:
    """JSON-safe params for a Celery message (defaults left out, so the worker's apply)."""
    return model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
