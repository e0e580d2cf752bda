"""Shared helpers for the fault-injection and fuzz tests (``test_faults_*.py``, ``test_fuzz_*.py``).

Every helper owns real processes and can prove they are gone: a private ``redis-server``
(optionally with AOF), a private PostgreSQL cluster that can be stopped and started again on
the same port, the API served by uvicorn in a thread, and a watcher that checks, atomically
inside Redis, that the version readers are pointed at is complete. Nothing here fakes Redis,
SQL or Celery; "time passing" is simulated only where a test would otherwise wait minutes
(``fast_forward``), and each use says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from celery import Celery

from agentload import keys
from agentload.settings import Settings
from tests.harness import free_port
from workers.config import build_config

TOKEN = "faults-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}
REAL_AGENTS = 10
BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
PM = "src/modules/bmm/agents/pm.agent.yaml"


def running(pid: int) -> bool:
    """True if ``pid`` is a live process (a zombie, dead but not yet reaped by its parent, is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "") -> Any:
    """Poll ``predicate`` until truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


# ----------------------------------------------------------------------------- Redis


class RedisServer:
    """A private ``redis-server`` on a fixed free port: stop/kill/start keep port and data dir.

    ``appendonly=True`` persists every write (``appendfsync always``) so a restart keeps the
    published catalog, the way a production Redis with AOF does.
    """

    def __init__(self, data_dir: Path, *, appendonly: bool = False, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []  # every server process this object started

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
                "--save", "", "--loglevel", "warning", "--logfile", str(self.dir / "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pids.append(self.proc.pid)
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
                try:
                    if probe.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            probe.close()
        self.kill()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM: with AOF every acknowledged write is on disk)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Crash (SIGKILL)."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url, **kwargs)

    def assert_gone(self) -> None:
        alive = [p for p in self.pids if running(p)]
        assert not alive, f"redis-server still running: {alive}"


@contextlib.contextmanager
def redis_server(data_dir: Path, *, appendonly: bool = False) -> Iterator[RedisServer]:
    """A started ``RedisServer``; teardown stops it and asserts no server process survived."""
    server = RedisServer(data_dir, appendonly=appendonly).start()
    try:
        yield server
    finally:
        server.kill()
        server.assert_gone()


def fast_forward(r: redis.Redis, seconds: float) -> dict[str, int]:
    """Simulate ``seconds`` passing for what lives in Redis, instead of sleeping through them.

    Keys whose TTL is shorter than ``seconds`` are deleted (they would have expired) and every
    delivery time in kombu's ``unacked_index`` moves back by ``seconds`` (so a message whose
    worker died counts as past its visibility timeout). Returns what was changed.
    """
    expired = 0
    for key in list(r.scan_iter(count=1000)):
        ttl_ms = r.pttl(key)
        if 0 <= ttl_ms <= seconds * 1000:
            expired += r.delete(key)
    moved = 0
    for tag, score in r.zrange("unacked_index", 0, -1, withscores=True):
        r.zadd("unacked_index", {tag: score - seconds})
        moved += 1
    return {"expired": expired, "unacked_moved": moved}


# ----------------------------------------------------------------------------- versions

# KEYS: 1 CURRENT_VERSION; ARGV: 1 version key prefix ("agentload:v1:cat:"), 2 keys.CONTENT_PREFIX,
# 3 keys.AGENT_ENTRY_PREFIX. Returns {version or false, index members, missing members or values,
# agent entries, selection keys, agents in meta (-1 without meta), keys or values with a TTL}:
# one atomic snapshot of what a reader sees (values stored by content: those its refs hash names).
WHOLE_VERSION = """
local v = redis.call('GET', KEYS[1])
if not v then return {false, 0, 0, 0, 0, -1, 0} end
local base = ARGV[1] .. v .. ':'
local members = redis.call('SMEMBERS', base .. 'index')
local missing, agents, sels, ttl = 0, 0, 0, 0
local function check(k)
  local t = redis.call('PTTL', k)
  if t == -2 then missing = missing + 1 elseif t >= 0 then ttl = ttl + 1 end
end
for _, k in ipairs(members) do
  check(k)
  if string.find(k, base .. 'sel:', 1, true) == 1 then sels = sels + 1 end
end
local refs = redis.call('HGETALL', base .. 'refs')
for i = 1, #refs, 2 do
  check(ARGV[2] .. refs[i + 1])
  if string.find(refs[i], ARGV[3], 1, true) == 1 then agents = agents + 1 end
end
local meta = redis.call('GET', base .. 'meta')
local n = -1
if meta then n = cjson.decode(meta)['agents'] end
return {v, #members, missing, agents, sels, n, ttl}
"""


@dataclass
class VersionSnapshot:
    version: str | None
    members: int
    missing: int
    agents: int
    selections: int
    meta_agents: int
    with_ttl: int

    def whole(self) -> bool:
        """Every indexed key and listed value exists, the meta is there and agrees with the agents."""
        return (self.version is not None and self.members > 0 and self.missing == 0
                and self.meta_agents == self.agents and self.selections > 0)


def snapshot(r: redis.Redis) -> VersionSnapshot:
    raw = r.eval(WHOLE_VERSION, 1, keys.CURRENT_VERSION, keys.version_key("", "")[:-1], keys.CONTENT_PREFIX,
                 keys.AGENT_ENTRY_PREFIX)
    v = raw[0].decode() if isinstance(raw[0], bytes) else (raw[0] or None)
    return VersionSnapshot(v, *(int(x) for x in raw[1:]))


@dataclass
class VersionWatcher:
    """A reader thread that checks, every few ms, that the current version is complete.

    Use as a context manager; ``violations`` lists every snapshot that was not whole (a reader
    following the pointer at that instant would have seen a half version).
    """

    url: str
    interval_s: float = 0.003
    checks: int = 0
    versions: list[str] = field(default_factory=list)
    violations: list[VersionSnapshot] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        try:
            while not self._stop.is_set():
                try:
                    snap = snapshot(client)
                except redis.RedisError as exc:  # an outage is the test's business, not a violation
                    self.errors.append(repr(exc))
                    self._stop.wait(0.05)
                    continue
                self.checks += 1
                if snap.version is not None:
                    if not snap.whole():
                        self.violations.append(snap)
                    if not self.versions or self.versions[-1] != snap.version:
                        self.versions.append(snap.version)
                self._stop.wait(self.interval_s)
        finally:
            client.close()

    def __enter__(self) -> VersionWatcher:
        self._thread = threading.Thread(target=self._run, name="version-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)
        assert not self._thread.is_alive(), "version watcher did not stop"


def orphan_versions(r: redis.Redis) -> dict[str, dict[str, int]]:
    """Versions with keys in Redis that are not the current one: {version: {keys, without_ttl}}."""
    current = r.get(keys.CURRENT_VERSION)
    current = current.decode() if isinstance(current, bytes) else current
    prefix = keys.version_key("", "")[:-1]
    out: dict[str, dict[str, int]] = {}
    for raw in r.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        version = key[len(prefix):].split(":", 1)[0]
        if version == current:
            continue
        entry = out.setdefault(version, {"keys": 0, "without_ttl": 0})
        entry["keys"] += 1
        if r.ttl(key) == -1:
            entry["without_ttl"] += 1
    return out


# ----------------------------------------------------------------------------- Celery


def client_app(redis_url: str) -> Celery:
    """A Celery client with the workers' config (sends by name, reads results)."""
    app = Celery("agentload-faults-client", set_as_current=False)
    app.conf.update(build_config(Settings(redis_url=redis_url, env="test")))
    return app


def worker_args(name: str, queues: str = "default,catalog,metrics,long", concurrency: int = 1) -> list[str]:
    return ["-A", "workers.app", "worker", "-Q", queues, "-c", str(concurrency), "--pool", "prefork",
            "-l", "info", "-n", f"{name}@localhost", "--without-heartbeat", "--without-gossip",
            "--without-mingle"]


def wait_ready(process: Any, timeout: float = 30.0) -> None:
    """Until the worker logged ``worker ready`` (``workers.signals``); fail with its log if it died."""
    def ready() -> bool:
        if process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited with {process.proc.returncode}:\n{process.log_tail()}")
        return "worker ready hostname=" in process.log()

    wait_until(ready, timeout, 0.05, f"{process.name} ready")


def pool_children(process: Any) -> list[psutil.Process]:
    return psutil.Process(process.pid).children()


def kill_group(process: Any) -> None:
    """SIGKILL a spawned celery process and its pool children (a crashed host or OOM kill)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        process.children = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGKILL)
    process.proc.wait(10)
    _, alive = psutil.wait_procs(process.children, timeout=5)
    assert not alive, f"survivors of SIGKILL: {alive}"


# ----------------------------------------------------------------------------- uvicorn


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-faults", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 20, 0.01, "uvicorn start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn thread did not stop"


# ----------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """A private cluster from ``tests/pg.py`` that can be stopped and started again in place.

    ``scripts/pg.sh stop`` deletes the cluster, so pausing uses ``pg_ctl`` directly (as the
    server's OS user when running as root, like the script does).
    """

    def __init__(self, state_dir: Path) -> None:
        from tests import pg

        self.state_dir = state_dir
        self.url, self._destroy = pg.start_postgres(state_dir)
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        self.os_user = self.url.split("://", 1)[1].split("@", 1)[0]
        base = Path((state_dir / "datadir").read_text().strip())
        self.data = base / "data"
        self.log = base / "server.log"
        self.bin = self._find_bin()
        self.pids: list[int] = [self._postmaster_pid()]

    def _find_bin(self) -> Path:
        from tests.pg import _BIN_DIRS

        env = os.environ.get("PG_BIN")
        candidates = [Path(env)] if env else []
        ctl = shutil.which("pg_ctl")
        if ctl:
            candidates.append(Path(ctl).resolve().parent)
        candidates += [Path(d) for d in _BIN_DIRS]
        for c in candidates:
            if (c / "pg_ctl").exists():
                return c
        raise RuntimeError("pg_ctl not found")

    def _as_server_user(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        runner = shutil.which("runuser")
        return [runner, "-u", self.os_user, "--", *args] if runner else args

    def _postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def pause(self) -> None:
        """Stop the server (fast shutdown), keeping its data."""
        pid = self._postmaster_pid()
        subprocess.run(self._as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                                             "-w", "-t", "30", "stop"]), check=True, capture_output=True,
                       cwd="/")
        wait_until(lambda: not running(pid), 10, 0.05, "postmaster exit")

    def resume(self) -> None:
        """Start it again on the same port."""
        subprocess.run(self._as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                             "-o", f"-p {self.port}", "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, cwd="/")
        self.pids.append(self._postmaster_pid())

    def destroy(self) -> None:
        self._destroy()
        deadline = time.monotonic() + 10  # pg_ctl -w returns when the pid file is gone, not the process
        while (alive := [p for p in self.pids if running(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"postgres still running: {alive}"


# ----------------------------------------------------------------------------- SQL figures


def sql_totals(database_url: str) -> dict[str, int]:
    """Rows and summed counters the flush jobs wrote (what an exactly-once check compares)."""
    from sqlalchemy import func, select

    from models import AgentLoadingMetric, CachePerformance, TokenOptimization, session_scope

    with session_scope(database_url) as s:
        hits = s.scalar(select(func.coalesce(func.sum(CachePerformance.hits), 0))
                        .where(CachePerformance.cache_type == "selections"))
        return {"selection_hits": int(hits or 0),
                "agent_loading_metrics": int(s.scalar(select(func.count()).select_from(AgentLoadingMetric)) or 0),
                "token_optimization": int(s.scalar(select(func.count()).select_from(TokenOptimization)) or 0)}


def beat_args(schedule_file: Path) -> list[str]:
    """``celery beat`` with its schedule db in the test's dir and no pidfile (two must coexist)."""
    return ["-A", "workers.app", "beat", "-l", "info", "--max-interval", "1", "-s", str(schedule_file),
            "--pidfile", ""]


def task_results(r: redis.Redis, name: str) -> list[dict[str, Any]]:
    """Every stored result of task ``name`` (``result_extended`` keeps the name), oldest first."""
    import orjson

    out = []
    for key in r.scan_iter(match="celery-task-meta-*", count=1000):
        raw = r.get(key)
        if raw is None:
            continue
        meta = orjson.loads(raw)
        if meta.get("name") == name:
            out.append(meta)
    return sorted(out, key=lambda m: m.get("date_done") or "")
