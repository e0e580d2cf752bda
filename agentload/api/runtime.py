"""The per-process objects the request path needs: one Redis pool, one Celery client.

Shared by the FastAPI lifespan and the MCP server. Redis gets ~1 s socket timeouts and a
single immediate retry: the retry reconnects a pooled connection that went stale across a
Redis restart, and the short timeouts turn an outage into a fast 503 instead of requests
piling up behind redis-py's default 5 s timeout with exponential back-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis as redis_sync
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from agentload.api.enqueue import Enqueuer, build_client
from agentload.api.livestats import TelemetryBuffer
from agentload.api.looplag import LoopLag
from agentload.api.redislink import RedisLink, open_link
from agentload.api.service import SelectionService
from agentload.project import ProjectCache
from agentload.reader.store import CatalogStore
from agentload.settings import Settings

SOCKET_TIMEOUT_S = 1.0


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: CatalogStore
    enqueuer: Enqueuer
    service: SelectionService
    sync_redis: redis_sync.Redis  # for the few synchronous cache helpers, run in threads
    telemetry: TelemetryBuffer
    link: RedisLink | None = None  # the hot path's pipelined connection (``api.redislink``)
    projects: ProjectCache = field(default_factory=ProjectCache)  # readings of project files
    # whether this process's loop ran late lately (a Redis timeout then is overload, not an outage);
    # started by the API's lifespan
    lag: LoopLag = field(default_factory=lambda: LoopLag(SOCKET_TIMEOUT_S / 2, 2 * SOCKET_TIMEOUT_S))


class ConnectedFirstPool(BlockingConnectionPool):
    """redis-py's blocking pool, but an idle *connected* connection is handed out before an
    idle disconnected one.

    Why not the library's order: it hands out the most recently released connection, and a
    connection that failed to connect (Redis at ``maxclients`` during a burst) is released
    like any other. After the burst, requests would take those and retry connecting while
    Redis is still full, and answer 503 although the pool holds working connections. So a
    connection released disconnected goes to the far end of the idle list (the pool takes
    from the near end); connected ones are released as usual.
    """

    async def release(self, connection: AbstractConnection) -> None:
        await super().release(connection)
        idle = self._available_connections
        if not connection.is_connected and idle and idle[-1] is connection:
            idle.insert(0, idle.pop())


async def checked_handshake(connection: AbstractConnection) -> None:
    """redis-py's connection handshake, then a ``PING``.

    Why: a client Redis refuses (``maxclients``) is told so in the first reply, and the
    handshake reads that reply for ``CLIENT SETINFO``, whose errors it ignores; the socket then
    counts as connected although the server closed it. The ``PING`` finds out, and the pool
    drops the connection instead of handing it out.
    """
    try:
        await connection.on_connect()
        await connection.send_command("PING", check_health=False)
        await connection.read_response()
    except ResponseError as exc:
        raise RedisConnectionError(str(exc)) from exc


def make_redis(settings: Settings, timeout_s: float = SOCKET_TIMEOUT_S, max_connections: int = 200) -> Redis:
    """An asyncio Redis client (bytes responses: orjson reads bytes directly).

    The pool is bounded and *blocking*: past ``max_connections`` a request waits up to the
    timeout for a free connection rather than opening connections without limit (a burst
    could otherwise exhaust Redis' ``maxclients`` for every other process).
    """
    pool = ConnectedFirstPool.from_url(
        settings.redis_url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),  # a timeout is not retried
        redis_connect_func=checked_handshake,
    )
    return Redis.from_pool(pool)


def open_runtime(settings: Settings) -> Runtime:
    """Create the clients; nothing connects until first use, so start-up never blocks on Redis."""
    redis = make_redis(settings)
    store = CatalogStore(redis, default_strategy=settings.strategy)
    enqueuer = Enqueuer(build_client(settings))
    sync = redis_sync.Redis.from_url(settings.redis_url, socket_timeout=SOCKET_TIMEOUT_S,
                                     socket_connect_timeout=SOCKET_TIMEOUT_S)
    return Runtime(settings, redis, store, enqueuer, SelectionService(store, redis, enqueuer, settings), sync,
                   TelemetryBuffer(redis), open_link(settings.redis_url, SOCKET_TIMEOUT_S))


async def close_runtime(runtime: Runtime) -> None:
    runtime.lag.stop()
    await runtime.telemetry.aclose()
    runtime.enqueuer.close()
    runtime.sync_redis.close()
    if runtime.link is not None:
        runtime.link.close()
    await runtime.redis.aclose()
