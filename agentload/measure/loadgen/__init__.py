"""Open-model HTTP load generator for the agentload API (loopback / configured API only).

Public entry points: ``LoadSpec`` + ``check_target`` (what may be loaded), scenario builders
(what is sent), ``run_load`` / ``run_load_sync`` (one run), ``step_test`` / ``stress_ramp``
(curves against users). See ``models`` for the counting conventions of ``LoadResult``.
"""

from agentload.loadgen.models import LatencySummary, LoadResult, SecondSample, StepResult
from agentload.loadgen.recorder import HIST_DIGITS, HIST_HIGHEST_US, HIST_LOWEST_US, new_histogram
from agentload.loadgen.runner import CancelFlag, ProgressCallback, run_load, run_load_sync
from agentload.loadgen.scenarios import (
    RequestSpec,
    Scenario,
    ScenarioFn,
    context_params,
    journeys,
    mixed,
    preload_writes,
    project_id,
    selection_reads,
    weighted,
)
from agentload.loadgen.spec import LoadLimits, LoadSpec, TargetRefused, check_limits, check_target
from agentload.loadgen.steps import (
    DEFAULT_USER_STEPS,
    ramp_users,
    step_test,
    step_test_sync,
    stress_ramp,
    stress_ramp_sync,
)

__all__ = [
    "DEFAULT_USER_STEPS", "HIST_DIGITS", "HIST_HIGHEST_US", "HIST_LOWEST_US", "CancelFlag",
    "LatencySummary", "LoadLimits", "LoadResult", "LoadSpec", "ProgressCallback", "RequestSpec",
    "Scenario", "ScenarioFn", "SecondSample", "StepResult", "TargetRefused", "check_limits",
    "check_target", "context_params", "journeys", "mixed", "new_histogram", "preload_writes",
    "project_id", "ramp_users", "run_load", "run_load_sync", "selection_reads", "step_test",
    "step_test_sync", "stress_ramp", "stress_ramp_sync", "weighted",
]
