"""Real Celery processes for integration tests: a session worker and a spawner for beat etc.

Processes are started with the venv's ``celery`` CLI in their own process group, log to a
file (whose tail is shown when they fail to start), and are stopped with SIGTERM then
SIGKILL; teardown asserts that the process and all of its children are gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError

from agentload.settings import Settings
from agentload.tasknames import Queue, TaskName
from tests.harness import RedisProcess
from workers.config import build_config

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def celery_command() -> list[str]:
    """The ``celery`` CLI of the interpreter running the tests (the project venv)."""
    cli = Path(sys.executable).with_name("celery")
    return [str(cli)] if cli.exists() else [sys.executable, "-m", "celery"]


@dataclass
class CeleryProcess:
    """A running ``celery`` subprocess and where its output goes."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    name: str
    children: list[psutil.Process] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def process_env(redis_url: str, tmp_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for a celery process: test settings, repo importable, unbuffered logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLOAD_")}
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "AGENTLOAD_ENV": "test",
            "AGENTLOAD_REDIS_URL": redis_url,
            "AGENTLOAD_DATABASE_URL": f"sqlite:///{tmp_dir / 'agentload.db'}",
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def spawn(args: list[str], env: dict[str, str], log_path: Path, name: str) -> CeleryProcess:
    """Start ``celery <args>`` in a new session (so we can signal its whole group)."""
    log_file = log_path.open("wb")
    try:
        proc = subprocess.Popen(
            [*celery_command(), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_file.close()
    return CeleryProcess(proc=proc, log_path=log_path, name=name)


def stop(process: CeleryProcess) -> None:
    """SIGTERM (warm shutdown), SIGKILL to the group if it hangs; assert nothing survives."""
    proc = process.proc
    if proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)
    _, alive = psutil.wait_procs(process.children, timeout=10)
    for child in alive:
        child.kill()
    assert proc.poll() is not None, f"{process.name} (pid {proc.pid}) is still running"
    assert not alive, f"{process.name} left children running: {[c.pid for c in alive]}"


@pytest.fixture(scope="session")
def celery_app(redis_url: str) -> Iterator[Celery]:
    """A *client* Celery app (same config as the workers) pointed at the test Redis.

    It registers no tasks and no signal handlers: like the API it only sends by name.
    """
    app = Celery("agentload-test-client", set_as_current=False)
    app.conf.update(build_config(Settings(redis_url=redis_url, env="test")))
    try:
        yield app
    finally:
        app.close()


@dataclass
class WorkerInfo:
    """What ``celery_worker`` yields: the process and the node name it answers as."""

    process: CeleryProcess
    nodename: str
    queues: tuple[str, ...]


@pytest.fixture(scope="session")
def celery_worker(redis_url: str, celery_app: Celery, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerInfo]:
    """A real prefork worker consuming every queue, ready (answered a ping) when yielded."""
    tmp_dir = tmp_path_factory.mktemp("worker")
    nodename = f"agentload-test-{uuid.uuid4().hex[:6]}@localhost"
    queues = tuple(q.value for q in Queue)
    args = [
        "-A", "workers.app", "worker",
        "-Q", ",".join(queues),
        "-c", "2", "--pool", "prefork", "-l", "info",
        "-n", nodename,
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    process = spawn(args, process_env(redis_url, tmp_dir), tmp_dir / "worker.log", "celery worker")
    try:
        _wait_for_ping(celery_app, process)
        yield WorkerInfo(process=process, nodename=nodename, queues=queues)
    finally:
        stop(process)


def _wait_for_ping(app: Celery, process: CeleryProcess) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            pytest.fail(
                f"celery worker exited with {process.proc.returncode} during startup; log tail:\n{process.log_tail()}"
            )
        result = app.send_task(TaskName.PING.value, expires=10)
        try:
            result.get(timeout=2)
            return
        except CeleryTimeoutError:
            continue
        finally:
            result.forget()
    pytest.fail(f"celery worker did not answer a ping in {WORKER_READY_TIMEOUT_S}s; log tail:\n{process.log_tail()}")


class Spawner:
    """Starts extra celery processes for one test and stops every one of them afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[CeleryProcess] = []

    def start(self, args: list[str], redis_url: str, name: str, **env: str) -> CeleryProcess:
        """``celery <args>`` with test settings on ``redis_url`` plus ``AGENTLOAD_*`` overrides."""
        work_dir = self.tmp_path / name
        work_dir.mkdir()
        process = spawn(args, process_env(redis_url, work_dir, **env), work_dir / "out.log", name)
        self.started.append(process)
        return process

    def stop(self, process: CeleryProcess) -> None:
        stop(process)

    def stop_all(self) -> None:
        errors: list[str] = []
        for process in self.started:
            try:
                stop(process)
            except AssertionError as exc:  # stop the others first, then report
                errors.append(str(exc))
        assert not errors, errors


@pytest.fixture
def spawn_celery(tmp_path: Path) -> Iterator[Spawner]:
    """A ``Spawner`` for extra celery processes (beat, a second worker...), cleaned up after."""
    spawner = Spawner(tmp_path)
    yield spawner
    spawner.stop_all()


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    """A ``redis-server`` of the test's own (no other test or worker uses it), stopped after;
    for faults that change its configuration or stop it."""
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.stop()
