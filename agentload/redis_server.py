"""A private ``redis-server`` on a free loopback port, owned by the process that started it.

``agentload serve`` runs one for a single project (no Redis to install or configure), and the
journey-token measurement runs one per catalog. The process is started with ``Popen``, never
daemonised, without persistence, so it can be stopped by pid and restarted on the same port
(tests stop it mid-request to see the 503 and restart it to see recovery).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    """``redis-server`` without persistence on a fixed free port; ``stop``/``start`` keep the port.

    ``url`` is ``redis://127.0.0.1:<port>/0``. Raises ``RuntimeError`` when ``redis-server``
    is not installed (at construction) or does not answer a PING within the timeout (at start).
    """

    def __init__(self, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> RedisProcess:
        """Start the server and wait (at most ``timeout_s`` seconds) until it answers; returns self."""
        # its own session: a terminal's Ctrl-C goes to the owner's process group only, and the
        # owner stops Redis last, after the workers and beat that still talk to it
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.ConnectionError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, SIGKILL after 5 s) and reap it; a no-op when not running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
