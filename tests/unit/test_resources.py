"""ResourceSampler on real processes: this test process, a child tree, dead pids, Redis INFO stubs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from agentload.measure.resources import ResourceSampler


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(i * i for i in range(1000))


class FakeRedis:
    """Counters grow by a fixed step per INFO call, like a busy Redis."""

    def __init__(self) -> None:
        self.calls = 0

    def info(self) -> dict[str, Any]:
        self.calls += 1
        n = self.calls
        return {"instantaneous_ops_per_sec": 100 * n, "total_commands_processed": 1000 + 50 * n,
                "total_net_input_bytes": 10 * n, "total_net_output_bytes": 20 * n,
                "used_memory": 1_000_000 + n}


class BrokenRedis:
    def info(self) -> dict[str, Any]:
        raise ConnectionError("redis is down")


def test_given_own_and_dead_pid_when_sampling_then_records_both_without_crashing() -> None:
    gone = dead_pid()
    with ResourceSampler({"self": os.getpid(), "dead": gone}, interval_s=0.05) as sampler:
        burn(0.4)
    report = sampler.report()

    assert len(report.samples) >= 4
    me = report.summary["self"]
    assert me.missing == 0 and me.rss_max_bytes is not None and me.rss_max_bytes > 10 * 2**20
    assert me.cpu_max is not None and me.cpu_max > 20
    assert me.cpu_seconds > 0.1
    dead = report.summary["dead"]
    assert dead.missing == dead.samples == len(report.samples) and dead.cpu_mean is None
    assert any(str(gone) in e for e in report.errors)
    assert all(not s.processes["dead"].alive for s in report.samples)
    json.dumps(report.model_dump(mode="json"))


def test_given_children_included_when_sampling_then_child_processes_are_summed() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        sampler = ResourceSampler({"tree": os.getpid(), "alone": os.getpid()}, interval_s=0.05,
                                  include_children=frozenset({"tree"}))
        sampler.start()
        time.sleep(0.2)
        report = sampler.stop()
    finally:
        child.kill()
        child.wait()

    last = report.samples[-1].processes
    assert last["tree"].nprocs >= 2 and last["alone"].nprocs == 1
    assert last["tree"].rss_bytes is not None and last["alone"].rss_bytes is not None
    assert last["tree"].rss_bytes > last["alone"].rss_bytes


def test_given_process_dying_mid_run_when_sampling_then_later_samples_mark_it_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    with ResourceSampler({"child": child.pid}, interval_s=0.05) as sampler:
        child.wait()
        time.sleep(0.2)
    alive = [s.processes["child"].alive for s in sampler.report().samples]
    assert alive[0] is True and alive[-1] is False


def test_given_redis_client_when_sampling_then_info_deltas_are_recorded() -> None:
    with ResourceSampler({}, interval_s=0.05, redis_client=FakeRedis()) as sampler:
        time.sleep(0.2)
    report = sampler.report()

    assert report.redis is not None
    redis_samples = [s.redis for s in report.samples if s.redis is not None]
    assert all(r.commands == 50 and r.net_output_bytes == 20 for r in redis_samples)
    assert report.redis.commands == 50 * len(redis_samples)
    assert report.redis.used_memory_max > 1_000_000 and report.redis.ops_per_sec_max >= 200


def test_given_broken_redis_when_sampling_then_error_is_recorded_not_raised() -> None:
    sampler = ResourceSampler({"self": os.getpid()}, redis_client=BrokenRedis())
    sample = sampler.sample_once()
    assert sample.redis is None and sample.processes["self"].alive
    assert any("redis is down" in e for e in sampler.report().errors)


def test_given_bad_interval_when_building_sampler_then_rejected() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        ResourceSampler({}, interval_s=0)
