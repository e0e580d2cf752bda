"""``agentload serve --project PATH``: everything one user needs, for one BMad project.

Starts, on the embedded defaults and loopback only: a private Redis, a SQLite database
(migrated), one Celery worker for every queue, beat (scheduled refresh: edits to the project's
BMad files are picked up), the API (``agentload.api.serve``) and the MCP server over HTTP. The
project's catalog is published *before* anything says ready, so the first selection is a hit.
The project is the default project of both servers: a selection call's missing fields come
from its own BMad status files and finished work (``agentload.project``).
It then prints the MCP configuration for Claude Code, Claude Desktop and Cursor (also written
to ``mcp.json`` in the state folder), and on Ctrl-C (or when any part dies) stops everything it
started.

State (Redis has no persistence; the database, logs and ``mcp.json``) lives in
``~/.cache/agentload/<project name>-<hash>/`` unless ``--state-dir`` says otherwise: nothing is
written into the project.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from agentload.redis_server import RedisProcess, free_port

READY_TIMEOUT_S = 60.0


@dataclass
class Stack:
    """What ``serve`` started, to report and to stop."""

    project: Path
    state: Path
    redis: RedisProcess
    api_url: str
    mcp_url: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> None:
        log = open(self.state / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it until it exits
        self.procs[name] = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=str(self.state), start_new_session=True)

    def dead(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left; Redis last."""
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)
            _signal_group(proc, signal.SIGKILL)  # prefork children left behind
        self.redis.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(proc.pid, sig)


def state_dir(project: Path) -> Path:
    """``~/.cache/agentload/<name>-<8 hex of the absolute path>``."""
    digest = hashlib.blake2b(str(project).encode(), digest_size=4).hexdigest()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentload"
    return base / f"{project.name or 'project'}-{digest}"


def mcp_configs(python: str, env: dict[str, str], mcp_url: str) -> dict[str, Any]:
    """The MCP server entries to paste: stdio (the client starts it) and HTTP (already running)."""
    server_env = {k: env[k] for k in ("AGENTLOAD_REDIS_URL", "AGENTLOAD_CATALOG_PATH", "AGENTLOAD_DATABASE_URL",
                                      "AGENTLOAD_PROJECT_ROOTS", "AGENTLOAD_DEFAULT_PROJECT") if k in env}
    args = ["-m", "agentload.mcp_server", "--transport", "stdio"]
    stdio = {"command": python, "args": args, "env": server_env}
    http: dict[str, Any] = {"type": "http", "url": mcp_url}
    if env.get("AGENTLOAD_MCP_TOKEN"):  # the HTTP transport then wants it on every request
        http["headers"] = {"Authorization": f"Bearer {env['AGENTLOAD_MCP_TOKEN']}"}
    return {"mcpServers": {"agentload": stdio}, "http": {"mcpServers": {"agentload": http}},
            "claude_code": ["claude", "mcp", "add", "agentload", "--transport", "stdio",
                            *[a for k, v in server_env.items() for a in ("--env", f"{k}={v}")], "--", python, *args]}


def publish(env: dict[str, str]) -> dict[str, Any]:
    """Publish the project's catalog into the new Redis (what the preload task does)."""
    from agentload.publish.refresh import refresh_catalog
    from agentload.publish.state import WorkerState
    from agentload.settings import Settings

    settings = Settings(redis_url=env["AGENTLOAD_REDIS_URL"], catalog_path=Path(env["AGENTLOAD_CATALOG_PATH"]),
                        database_url=env["AGENTLOAD_DATABASE_URL"])
    client = redis.Redis.from_url(settings.redis_url)
    try:
        result: dict[str, Any] = refresh_catalog(client, settings, WorkerState(), force=True)
    finally:
        client.close()
    if not result.get("published"):
        raise RuntimeError(f"the catalog was not published: {result.get('refused') or result.get('errors')}")
    return result


def wait_ready(stack: Stack) -> None:
    """Until the API says ready and the MCP endpoint answers; raises naming a part that died."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.dead():
            name = stack.dead()[0]
            raise RuntimeError(f"{name} exited; its log: {stack.state / (name + '.log')}")
        try:
            ready = httpx.get(f"{stack.api_url}/readyz", timeout=1).status_code == 200
            httpx.get(stack.mcp_url, timeout=1)
            if ready:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready within {READY_TIMEOUT_S:.0f} s; logs in {stack.state}")


def serve(project: Path, *, state: Path | None = None, api_port: int | None = None,
          mcp_port: int | None = None, echo: Any = print) -> Stack:  # noqa: ANN401 - a print-like callable
    """Start the stack for ``project`` and return it ready (the caller stops it)."""
    project = project.resolve()
    state = (state or state_dir(project)).resolve()
    state.mkdir(parents=True, exist_ok=True)
    server = RedisProcess().start()
    api_port, mcp_port = api_port or free_port(), mcp_port or free_port()
    env = {**os.environ, "AGENTLOAD_ENV": "development", "AGENTLOAD_REDIS_URL": server.url,
           "AGENTLOAD_CATALOG_PATH": str(project), "AGENTLOAD_DATABASE_URL": f"sqlite:///{state / 'agentload.db'}",
           "AGENTLOAD_API_BASE_URL": f"http://127.0.0.1:{api_port}",
           # selections read the project's own status files for what a call leaves out
           "AGENTLOAD_PROJECT_ROOTS": json.dumps([str(project)]), "AGENTLOAD_DEFAULT_PROJECT": str(project)}
    stack = Stack(project, state, server, env["AGENTLOAD_API_BASE_URL"], f"http://127.0.0.1:{mcp_port}/mcp", env)
    try:
        from models import migrate

        migrate.upgrade(env["AGENTLOAD_DATABASE_URL"])
        published = publish(env)
        echo(f"published {project}: {published['agents']} agents, version {published['version']}")
        py, celery = sys.executable, str(Path(sys.executable).with_name("celery"))
        stack.start("worker", [celery, "-A", "workers.app", "worker", "-Q", "default,catalog,metrics,long",
                               "-c", "2", "-l", "info", "-n", f"serve-{api_port}@%h", "--without-gossip",
                               "--without-mingle"])
        stack.start("beat", [celery, "-A", "workers.app", "beat", "-l", "info", "-s",
                             str(state / "celerybeat-schedule"), "--pidfile", ""])
        stack.start("api", [py, "-m", "agentload.api.serve", "--host", "127.0.0.1", "--port", str(api_port),
                            "--log-level", "warning"])
        stack.start("mcp", [py, "-m", "agentload.mcp_server", "--transport", "http", "--host", "127.0.0.1",
                            "--port", str(mcp_port)])
        wait_ready(stack)
    except BaseException:
        stack.stop()
        raise
    config = mcp_configs(sys.executable, env, stack.mcp_url)
    (state / "mcp.json").write_text(json.dumps(config, indent=2) + "\n")
    return stack


def describe(stack: Stack) -> str:
    """What a user needs to use the running stack (printed by the CLI)."""
    config = json.loads((stack.state / "mcp.json").read_text())
    stdio = json.dumps({"mcpServers": config["mcpServers"]}, indent=2)
    http = json.dumps(config["http"], indent=2)
    add = " ".join(_quote(a) for a in config["claude_code"])
    return "\n".join([
        f"ready: API {stack.api_url} (docs {stack.api_url}/docs), MCP {stack.mcp_url}",
        f"state and logs: {stack.state}",
        "",
        "Claude Code:      " + add,
        "Claude Desktop (claude_desktop_config.json) or Cursor (.cursor/mcp.json), stdio:",
        stdio,
        "or over HTTP while this command runs:",
        http,
        "",
        "Ctrl-C stops everything.",
    ])


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:@" for c in arg) else json.dumps(arg)


def run(project: Path, *, state: Path | None = None, api_port: int | None = None, mcp_port: int | None = None) -> int:
    """The CLI's body: start, print, wait for Ctrl-C or a dead part, stop. Returns an exit code."""
    stack = serve(project, state=state, api_port=api_port, mcp_port=mcp_port)
    print(describe(stack), flush=True)
    stopping = {"signal": False}

    def _stop(*_: Any) -> None:
        stopping["signal"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping["signal"]:
            if stack.dead():
                print(f"{stack.dead()[0]} exited; stopping (logs in {stack.state})", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped", flush=True)
