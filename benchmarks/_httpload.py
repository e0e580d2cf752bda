"""A lean HTTP/1.1 GET load client for overload runs: asyncio protocols and httptools' parser.

Why not aiohttp (which ``agentload.measure.loadgen`` uses): offering four times what one API
process sustains takes thousands of requests/s from the same two cores the server runs on.
aiohttp spends 150-250 us of Python per request and, past its connection pool, parks every due
request in a task of its own; at 5,000 requests/s offered the client's loop drowned in tens of
thousands of waiting tasks and reported its own queue as timeouts. Here a request is a tuple
in a deque until a connection is free, a response is parsed by httptools (uvicorn's C parser),
and each answer is sorted by ``classify(status, body)`` without building a response object.

Open model: request ``i`` is due at ``start + i / rate`` whatever the server does; a due
request takes an idle connection, or opens one up to ``connections``, or waits in the client's
queue; its latency counts from the due time. A request not answered ``timeout_s`` after it was
due is a ``client timeout`` (its connection is closed, since its answer may still come).
Closed loop (``rate`` 0): ``connections`` connections each send the next request when the
answer is back.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import httptools

Classify = Callable[[int, bytes], tuple[str, str]]


class _Conn(asyncio.Protocol):
    def __init__(self, load: Load) -> None:
        self.load, self.parser = load, httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.request: tuple[float, str] | None = None  # (due, path) in flight
        self.body: list[bytes] = []
        self.retry_after = self.close_after = False
        self.names: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, due: float, path: str) -> None:
        assert self.transport is not None
        self.request, self.body, self.retry_after, self.close_after = (due, path), [], False, False
        self.names: list[bytes] = []
        self.transport.write(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), self.load.host))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail("connection error: bad response")

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        self.names.append(lower)
        self.retry_after |= lower == b"retry-after"
        self.close_after |= lower == b"connection" and value.lower() == b"close"

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        if request is not None:
            self.load.answered(self, request[0], self.parser.get_status_code(), b"".join(self.body), self.retry_after)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail("connection error: closed by the server")

    def fail(self, kind: str) -> None:
        request, self.request = self.request, None
        if self.transport is not None:
            self.transport.close()
        self.load.lost(self, kind if request is not None else None)


class Load:
    """One client's counts: ``kinds`` of answers, ``details`` (kind: detail), latencies of ok answers."""

    def __init__(self, host: str, port: int, connections: int, timeout_s: float, classify: Classify) -> None:
        self.host, self.port, self.limit, self.timeout_s = host.encode(), port, connections, timeout_s
        self.addr, self.classify = host, classify
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.opening = 0
        self.queue: deque[tuple[float, str]] = deque()
        self.kinds: Counter[str] = Counter()
        self.details: Counter[str] = Counter()
        self.ok_ms: list[float] = []
        self.sent = self.retry_after = 0
        self.closed_loop: list[str] | None = None

    def submit(self, due: float, path: str) -> None:
        self.queue.append((due, path))
        self._pump()

    def _pump(self) -> None:
        while self.queue and self.idle:
            self._send(self.idle.pop(), *self.queue.popleft())
        while len(self.queue) > self.opening and len(self.busy) + len(self.idle) + self.opening < self.limit:
            self.opening += 1
            self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            _, conn = await self.loop.create_connection(lambda: _Conn(self), self.addr, self.port)
        except OSError as exc:
            self.opening -= 1
            if self.queue:
                self._count("connection error", self.queue.popleft()[0], type(exc).__name__)
            return
        self.opening -= 1
        self.idle.append(conn)
        self._pump()

    def _send(self, conn: _Conn, due: float, path: str) -> None:
        self.sent += 1
        self.busy.add(conn)
        conn.send(due, path)

    def _count(self, kind: str, due: float, detail: str = "") -> None:
        self.kinds[kind] += 1
        if detail:
            self.details[f"{kind}: {detail[:90]}"] += 1
        if kind == "ok":
            self.ok_ms.append((self.loop.time() - due) * 1000)
        if self.closed_loop is not None:  # the next request of this closed-loop user
            self.submit(self.loop.time(), self.closed_loop[self.sent % len(self.closed_loop)])

    def answered(self, conn: _Conn, due: float, status: int, body: bytes, retry_after: bool) -> None:
        self.busy.discard(conn)
        self.retry_after += status == 503 and retry_after
        if status == 503 and not retry_after:
            self.details[f"503 without Retry-After (headers: {b','.join(conn.names).decode()})"] += 1
        if conn.close_after:
            conn.fail("")
        else:
            self.idle.append(conn)
        kind, detail = self.classify(status, body)
        self._count(kind, due, detail)

    def lost(self, conn: _Conn, kind: str | None) -> None:
        """``conn`` is closed; ``kind`` ("connection error: why") when a request was in flight on it."""
        self.busy.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if kind is not None:
            name, _, why = kind.partition(": ")
            self._count(name, self.loop.time(), why)
        self._pump()

    def expire(self) -> None:
        """Requests due more than ``timeout_s`` ago: queued ones dropped, in-flight ones' connections closed."""
        limit = self.loop.time() - self.timeout_s
        while self.queue and self.queue[0][0] < limit:
            self._count("client timeout", self.queue.popleft()[0], "never sent: no free connection")
        for conn in [c for c in self.busy if c.request is not None and c.request[0] < limit]:
            due = conn.request[0] if conn.request else 0.0
            conn.request = None
            conn.fail("")
            self._count("client timeout", due, "sent, no answer in time")

    def close(self) -> None:
        for conn in [*self.idle, *self.busy]:
            if conn.transport is not None:
                conn.transport.close()


async def run(host: str, port: int, targets: list[str], rate: float, seconds: float, connections: int,
              start_at: float, timeout_s: float, classify: Classify) -> dict[str, Any]:
    """Counts of one run (open model at ``rate``, or closed loop over ``connections`` when 0)."""
    load = Load(host, port, connections, timeout_s, classify)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0, cpu0 = load.loop.time(), _cpu_s()
    end = t0 + seconds
    if rate <= 0:
        load.closed_loop = targets
        for n in range(connections):
            load.submit(t0, targets[n % len(targets)])
    i = 0
    while load.loop.time() < end:
        now = load.loop.time()
        while rate > 0 and t0 + i / rate <= now and i < rate * seconds:
            load.submit(t0 + i / rate, targets[i % len(targets)])
            i += 1
        load.expire()
        await asyncio.sleep(0.002)
    load.closed_loop = None
    while (load.queue or load.busy) and load.loop.time() < end + timeout_s + 0.5:
        load.expire()
        await asyncio.sleep(0.02)
    load.close()
    await asyncio.sleep(0.05)  # the transports finish closing before the loop does
    return {"kinds": load.kinds, "details": load.details, "retry_after": load.retry_after, "ok_ms": load.ok_ms,
            "sent": load.sent, "elapsed_s": max(load.loop.time(), end) - t0 if rate > 0 else seconds,
            "cpu_s": _cpu_s() - cpu0}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
