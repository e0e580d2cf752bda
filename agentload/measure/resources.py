"""Samples CPU and memory of named processes (and Redis INFO) while a load test runs.

Savings claims need the cost side too: requests/s means little without the CPU seconds
and memory the API, workers, Redis and Postgres spent on them. A background thread
samples every ``interval_s`` so the load generator's own loop is never blocked, and a
process that is missing or dies mid-run is recorded as not alive instead of ending the
measurement. The Redis client is passed in (any object with a sync ``info()``), so this
module opens no connection of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, Self

import psutil
from pydantic import BaseModel

_PSUTIL_GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, ValueError)
_MAX_ERRORS = 50


class RedisInfoClient(Protocol):
    """The one call needed from a (sync) redis client."""

    def info(self) -> Any: ...


class ProcessSample(BaseModel):
    alive: bool
    cpu_percent: float | None = None  # of one core; 200 = two cores busy
    rss_bytes: int | None = None
    nprocs: int = 0  # the process plus its children when children are included


class RedisSample(BaseModel):
    ops_per_sec: float
    commands: int  # delta since the previous sample
    net_input_bytes: int
    net_output_bytes: int
    used_memory: int


class Sample(BaseModel):
    t: float  # seconds since start
    system_cpu_percent: float
    processes: dict[str, ProcessSample]
    redis: RedisSample | None = None


class ProcessSummary(BaseModel):
    samples: int
    missing: int
    cpu_mean: float | None
    cpu_max: float | None
    cpu_seconds: float  # integral of cpu_percent over time: the cost side of "per request"
    rss_mean_bytes: float | None
    rss_max_bytes: int | None


class RedisSummary(BaseModel):
    samples: int
    commands: int
    net_input_bytes: int
    net_output_bytes: int
    ops_per_sec_mean: float
    ops_per_sec_max: float
    used_memory_max: int


class ResourceReport(BaseModel):
    """JSON-serialisable time series plus per-process summary."""

    interval_s: float
    started_at: float  # epoch seconds
    duration_s: float
    samples: list[Sample]
    summary: dict[str, ProcessSummary]
    redis: RedisSummary | None = None
    errors: list[str] = []


class ResourceSampler:
    """Thread sampling ``pids`` (name -> pid) every ``interval_s``; use as a context manager."""

    def __init__(
        self,
        pids: Mapping[str, int],
        *,
        interval_s: float = 0.25,
        include_children: bool | AbstractSet[str] = False,
        redis_client: RedisInfoClient | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.pids, self.interval_s, self.redis_client = dict(pids), interval_s, redis_client
        self.include_children = include_children
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._procs: dict[int, psutil.Process] = {}
        self._redis_prev: Mapping[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0, self._started_at = time.monotonic(), time.time()
        self._lock = threading.Lock()

    def _error(self, message: str) -> None:
        if message not in self.errors and len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)

    def _proc(self, pid: int) -> psutil.Process:
        # cached objects keep the previous CPU times that cpu_percent() measures against
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
            proc.cpu_percent(None)
        return proc

    def _sample_process(self, name: str, pid: int) -> ProcessSample:
        try:
            root = self._proc(pid)
            inc = self.include_children
            kids = root.children(recursive=True) if (inc if isinstance(inc, bool) else name in inc) else []
            procs = [root, *kids]
        except _PSUTIL_GONE as exc:
            self._error(f"{name} (pid {pid}): {type(exc).__name__}")
            return ProcessSample(alive=False)
        cpu, rss, alive = 0.0, 0, 0
        for p in procs:  # children come and go between samples: a vanished one just stops counting
            try:
                proc = self._proc(p.pid)
                with proc.oneshot():
                    cpu += float(proc.cpu_percent(None))
                    rss += int(proc.memory_info().rss)
                alive += 1
            except _PSUTIL_GONE:
                self._procs.pop(p.pid, None)
                if p.pid == pid:
                    self._error(f"{name} (pid {pid}) exited")
                    return ProcessSample(alive=False)
        return ProcessSample(alive=True, cpu_percent=round(cpu, 2), rss_bytes=rss, nprocs=alive)

    def _sample_redis(self) -> RedisSample | None:
        if self.redis_client is None:
            return None
        try:
            info = self.redis_client.info()
        except Exception as exc:  # redis down is a finding, not a crash
            self._error(f"redis INFO failed: {type(exc).__name__}: {exc}")
            return None
        prev = self._redis_prev or info
        self._redis_prev = info

        def delta(key: str) -> int:
            return int(info.get(key, 0)) - int(prev.get(key, 0))

        return RedisSample(
            ops_per_sec=float(info.get("instantaneous_ops_per_sec", 0.0)),
            commands=delta("total_commands_processed"), used_memory=int(info.get("used_memory", 0)),
            net_input_bytes=delta("total_net_input_bytes"), net_output_bytes=delta("total_net_output_bytes"),
        )

    def sample_once(self) -> Sample:
        """Take one sample now (also what the thread does each interval)."""
        with self._lock:
            sample = Sample(
                t=round(time.monotonic() - self._t0, 4),
                system_cpu_percent=float(psutil.cpu_percent(None)),
                processes={name: self._sample_process(name, pid) for name, pid in self.pids.items()},
                redis=self._sample_redis(),
            )
            self.samples.append(sample)
            return sample

    def _prime(self) -> None:
        """First cpu_percent() call only sets a baseline; do it before the first sample."""
        psutil.cpu_percent(None)
        for name, pid in self.pids.items():
            self._sample_process(name, pid)
        self._sample_redis()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()

    def start(self) -> Self:
        """Prime the baselines and start the sampling thread."""
        self._t0, self._started_at = time.monotonic(), time.time()
        self._prime()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ResourceReport:
        """Stop the thread (taking one last sample) and return the report."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample_once()
        return self.report()

    def __enter__(self) -> Self:
        """Start sampling; ``__exit__`` stops it (read the report with ``report()``)."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def report(self) -> ResourceReport:
        """Time series and summary of what has been sampled so far."""
        with self._lock:
            samples = list(self.samples)
        redis = [s.redis for s in samples if s.redis is not None]
        return ResourceReport(
            interval_s=self.interval_s,
            started_at=self._started_at,
            duration_s=samples[-1].t if samples else 0.0,
            samples=samples,
            summary={name: summarize_process(samples, name) for name in self.pids},
            redis=_summarize_redis(redis) if redis else None,
            errors=list(self.errors),
        )


def summarize_process(samples: list[Sample], name: str) -> ProcessSummary:
    """Mean/max CPU and RSS of one named process over the samples where it was alive."""
    alive = [(i, s.processes[name]) for i, s in enumerate(samples) if s.processes[name].alive]
    cpus = [p.cpu_percent for _, p in alive if p.cpu_percent is not None]
    rss = [p.rss_bytes for _, p in alive if p.rss_bytes is not None]
    cpu_seconds = 0.0
    for i, p in alive:
        dt = samples[i].t - (samples[i - 1].t if i else 0.0)
        cpu_seconds += (p.cpu_percent or 0.0) / 100.0 * dt
    return ProcessSummary(
        samples=len(samples),
        missing=len(samples) - len(alive),
        cpu_mean=round(sum(cpus) / len(cpus), 3) if cpus else None,
        cpu_max=max(cpus) if cpus else None,
        cpu_seconds=round(cpu_seconds, 4),
        rss_mean_bytes=round(sum(rss) / len(rss), 1) if rss else None,
        rss_max_bytes=max(rss) if rss else None,
    )


def _summarize_redis(samples: list[RedisSample]) -> RedisSummary:
    ops = [s.ops_per_sec for s in samples]
    return RedisSummary(
        samples=len(samples), commands=sum(s.commands for s in samples),
        net_input_bytes=sum(s.net_input_bytes for s in samples),
        net_output_bytes=sum(s.net_output_bytes for s in samples),
        ops_per_sec_mean=round(sum(ops) / len(ops), 3), ops_per_sec_max=max(ops),
        used_memory_max=max(s.used_memory for s in samples),
    )
