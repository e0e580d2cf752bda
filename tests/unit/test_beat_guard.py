"""Duplicate-beat detection logic (the live two-beat case is in tests/integration/test_beat.py)."""

from __future__ import annotations

import logging

import pytest

from agentload import keys
from workers.beat_guard import BeatRegistry


class FakeHashRedis:
    """Just the three hash commands the registry uses, over a dict of dicts."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}

    def hset(self, key: str, field: str, value: str) -> int:
        self.data.setdefault(key, {})[field] = value
        return 1

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return {k.encode(): v.encode() for k, v in self.data.get(key, {}).items()}

    def hdel(self, key: str, field: str) -> int:
        return int(self.data.get(key, {}).pop(field, None) is not None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _registry(client: FakeHashRedis, beat_id: str, clock: Clock) -> BeatRegistry:
    return BeatRegistry(client, beat_id, stale_after_s=15, clock=clock)  # type: ignore[arg-type]


def test_single_beat_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    client, clock = FakeHashRedis(), Clock()
    with caplog.at_level(logging.WARNING, logger="agentload.beat"):
        assert _registry(client, "a", clock).check() == []
    assert caplog.records == []
    assert client.data[keys.BEAT_INSTANCES] == {"a": "1000.000"}


def test_second_live_beat_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    client, clock = FakeHashRedis(), Clock()
    first, second = _registry(client, "a", clock), _registry(client, "b", clock)
    first.check()
    with caplog.at_level(logging.WARNING, logger="agentload.beat"):
        assert second.check() == ["a"]
        clock.now += 5
        assert second.check() == ["a"]  # same duplicate set: not repeated
    warnings = [r for r in caplog.records if "DUPLICATE CELERY BEAT" in r.getMessage()]
    assert len(warnings) == 1


def test_dead_beats_are_pruned_and_not_reported() -> None:
    client, clock = FakeHashRedis(), Clock()
    _registry(client, "old", clock).check()
    clock.now += 60
    assert _registry(client, "new", clock).check() == []
    assert set(client.data[keys.BEAT_INSTANCES]) == {"new"}


def test_unregister_removes_the_entry() -> None:
    client, clock = FakeHashRedis(), Clock()
    registry = _registry(client, "a", clock)
    registry.check()
    registry.unregister()
    assert client.data[keys.BEAT_INSTANCES] == {}


def test_given_a_beat_restarted_soon_after_a_crash_on_the_same_host_when_checking_then_no_duplicate() -> None:
    import os
    import socket
    import subprocess
    import sys

    client, clock = FakeHashRedis(), Clock()
    host = socket.gethostname()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)  # a real process of this host that has exited
    _registry(client, f"{host}:{dead_pid}:crashed", clock).check()
    clock.now += 5  # restarted well within the stale window
    assert _registry(client, f"{host}:{os.getpid()}:restarted", clock).check() == []
    assert list(client.data[keys.BEAT_INSTANCES]) == [f"{host}:{os.getpid()}:restarted"]
    # a live beat elsewhere (another host) or a live process here is still a duplicate
    _registry(client, "other-host:1:x", clock).check()
    _registry(client, f"{host}:{os.getppid()}:y", clock).check()
    assert _registry(client, f"{host}:{os.getpid()}:restarted", clock).check() == sorted(
        ["other-host:1:x", f"{host}:{os.getppid()}:y"])
