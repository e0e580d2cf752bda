"""One pipelined Redis connection for the hot path's counted read (``api.hotpath``).

Why not redis-py here, when it is used everywhere else: per call, redis-py's asyncio client
spends about 77 us of CPU on this machine (command packing with per-argument encoding,
pool checkout and release, retry and timeout wrappers) where the same ``EVALSHA`` over one
asyncio protocol costs 10-14 us (``benchmarks/api_read_path.py`` prints both figures side
by side; measured with uvloop, 5,000 calls). That difference is most of what a cached
selection costs above a bare FastAPI endpoint. The protocol itself is not ours: ``hiredis``
(the parser redis-py uses when installed) parses every reply; this module only writes
RESP arrays and matches replies to callers in order (Redis answers in order on one
connection, so concurrent requests share it: pipelining without a pool).

Failures are redis-py's exception types, so callers handle one family: a refused or lost
connection or a timeout fails every pending call with ``ConnectionError``/``TimeoutError``
and closes the socket; the next call reconnects. Error replies raise ``ResponseError``.

A timeout means *Redis* stayed silent, not that this process was slow to look: one watchdog
per connection (no timer per call) fails the pending calls only when the oldest has waited
``timeout_s``, nothing was read from Redis for ``timeout_s`` and nothing is waiting unread
in the socket. An overloaded event loop that comes back to the socket a second late finds
the replies there and delivers them. With a timer per call (``asyncio.timeout``) the expired
timers won (uvloop runs them before it reads the socket; asyncio cancels a call whose reply
it has just read), so every call in flight failed with "Redis did not answer in time" while
Redis had answered in microseconds (``tests/integration/test_redislink.py``, both loops). A Redis that keeps
answering, but too slowly, still fails a call after ``SLOW_FACTOR x timeout_s``.

Only TCP URLs (``redis://``, with optional user, password and db) are served; others make
``open_link`` return None and the hot path stays off.
"""

from __future__ import annotations

import asyncio
import select
from collections import deque
from typing import Any, cast

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

SLOW_FACTOR = 3  # a call waits at most this many timeouts while Redis keeps sending replies


def pack(args: tuple[Any, ...]) -> bytes:
    """A RESP array of bulk strings (``str`` as UTF-8, numbers by their decimal text)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()  # (caller, sent at)
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.last_read = self.loop.time()
        self.watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            waiter = self.waiting.popleft()[0]
            if not waiter.done():
                waiter.set_result(reply)

    def unread(self) -> bool:
        """Whether bytes from Redis wait in the socket (the loop has not come to read them)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        try:
            return sock is not None and bool(select.select([sock.fileno()], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile
            return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(RedisConnectionError("connection to Redis lost"))

    def fail(self, error: Exception) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        while self.waiting:
            waiter = self.waiting.popleft()[0]
            if not waiter.done():
                waiter.set_exception(error)


class RedisLink:
    """Calls over one connection; ``timeout_s`` bounds connecting and each reply."""

    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout_s: float = 1.0) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password, self.timeout_s = username, password, timeout_s
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Calls sent and waiting for their reply."""
        return len(self._protocol.waiting) if self._protocol is not None else 0

    async def call(self, *args: Any) -> Any:  # noqa: ANN401 - a RESP reply
        """Send one command and wait for its reply. Raises ``ConnectionError``,
        ``TimeoutError`` (both close the connection) or ``ResponseError``."""
        protocol = self._protocol if self._protocol is not None and self._protocol.transport else await self._connect()
        reply = await self._send(protocol, args)
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    async def _send(self, protocol: _Protocol, args: tuple[Any, ...]) -> Any:  # noqa: ANN401 - a RESP reply
        waiter: asyncio.Future[Any] = protocol.loop.create_future()
        if not protocol.waiting:
            protocol.last_read = protocol.loop.time()  # silence is counted from the first call waiting
        protocol.waiting.append((waiter, protocol.loop.time()))
        assert protocol.transport is not None
        protocol.transport.write(pack(args))
        if protocol.watchdog is None:
            protocol.watchdog = protocol.loop.call_later(self.timeout_s, self._watch, protocol)
        return await waiter

    def _watch(self, protocol: _Protocol) -> None:
        """Fail the pending calls if Redis has been silent for ``timeout_s`` (see the module doc)."""
        protocol.watchdog = None
        if not protocol.waiting or protocol.transport is None:
            return
        now = protocol.loop.time()
        oldest = protocol.waiting[0][1]
        silent = now - max(protocol.last_read, oldest)
        if (silent >= self.timeout_s and not protocol.unread()) or now - oldest >= SLOW_FACTOR * self.timeout_s:
            self._drop(protocol, RedisTimeoutError("Redis did not answer in time"))
            return
        # unread replies are read in this loop iteration: look again soon; else when the oldest is due
        due = max(self.timeout_s - silent, 0.0) if silent < self.timeout_s else 0.01
        protocol.watchdog = protocol.loop.call_later(due, self._watch, protocol)

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and self._protocol.transport is not None:
                return self._protocol
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.timeout_s):
                    _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"cannot connect to Redis: {type(exc).__name__}") from exc
            hello: list[tuple[Any, ...]] = []
            if self.password is not None:
                hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                hello.append(("SELECT", self.db))
            for command in hello:
                reply = await self._send(protocol, command)
                if isinstance(reply, hiredis.ReplyError):
                    self._drop(protocol, RedisConnectionError("Redis refused the handshake"))
                    raise RedisConnectionError(f"Redis refused {command[0]}: {reply}")
            self._protocol = protocol
            return protocol

    def _drop(self, protocol: _Protocol, error: Exception) -> None:
        """Replies may still arrive for abandoned calls, so the connection cannot be reused."""
        protocol.fail(error)
        if protocol.transport is not None:
            protocol.transport.close()
        if self._protocol is protocol:
            self._protocol = None

    def close(self) -> None:
        if self._protocol is not None:
            self._drop(self._protocol, RedisConnectionError("link closed"))


def open_link(redis_url: str, timeout_s: float) -> RedisLink | None:
    """A link for a plain TCP ``redis://`` URL; None for TLS or unix sockets (not served)."""
    if not redis_url.startswith("redis://"):
        return None
    options: dict[str, Any] = parse_url(redis_url)  # type: ignore[no-untyped-call]
    return RedisLink(str(options.get("host", "localhost")), int(options.get("port", 6379)),
                     db=int(options.get("db", 0)), username=options.get("username"),
                     password=options.get("password"), timeout_s=timeout_s)
