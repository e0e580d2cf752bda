"""Long jobs (queue ``long``, long time limits): they report ``PROGRESS`` for Flower/AsyncResult."""

from __future__ import annotations

from typing import Any

from agentload.measure.jobs import benchmark as benchmark_job
from agentload.measure.jobs import loadtest
from agentload.measure.jobs import optimize as optimize_job
from agentload.tasknames import TaskName
from workers.base import AgentloadTask, agentload_task


@agentload_task(TaskName.BENCHMARK, bind=True)
def benchmark(self: AgentloadTask, params: dict[str, Any]) -> dict[str, Any]:
    """Token/latency benchmark of the selection strategies."""
    return benchmark_job.run_benchmark(params, progress=self.progress_reporter())


@agentload_task(TaskName.LOAD_TEST, bind=True)
def load_test(self: AgentloadTask, params: dict[str, Any]) -> dict[str, Any]:
    """Load test against the API (bounded by the loadtest_* settings inside the job)."""
    return loadtest.run_load_test(params, progress=self.progress_reporter())


@agentload_task(TaskName.OPTIMIZE, bind=True)
def optimize(self: AgentloadTask, params: dict[str, Any]) -> dict[str, Any]:
    """Search selection parameters for the best token reduction."""
    return optimize_job.run_optimize(params, progress=self.progress_reporter())
