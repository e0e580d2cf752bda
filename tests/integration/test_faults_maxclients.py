"""Redis ``maxclients`` reached during a burst (issue 14, fault 4), on a private server.

While Redis refuses new clients, the API's connections that did connect keep working: after
the burst, requests are served over the pool's live connections instead of failing for minutes
on reconnect attempts of the connections the burst could not open.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import redis

from agentload.api.app import create_app
from agentload.api.runtime import make_redis
from agentload.settings import Settings
from tests.harness import RedisProcess, publish_real_catalog

SEL = "/api/v1/agents/optimized-loading"
HOT = {"track": "bmad-method", "field_type": "greenfield", "phase": 2}
MAXCLIENTS = 24


def occupy(port: int, admin: redis.Redis) -> list[socket.socket]:
    """Open plain connections until Redis holds ``MAXCLIENTS`` clients."""
    held: list[socket.socket] = []
    while int(admin.info("clients")["connected_clients"]) < MAXCLIENTS:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"PING\r\n")
        s.recv(64)
        held.append(s)
    return held


async def test_given_maxclients_reached_in_a_burst_when_it_is_over_then_pool_connections_serve(
    private_redis: RedisProcess, tmp_path: Path
) -> None:
    publish_real_catalog(private_redis.url, force=True)
    admin = redis.Redis.from_url(private_redis.url)
    admin.config_set("maxclients", MAXCLIENTS)
    settings = Settings(env="test", redis_url=private_redis.url, api_token="test-token-0123456789abcdef",
                        database_url=f"sqlite:///{tmp_path / 'db'}")
    app = create_app(settings)
    held: list[socket.socket] = []
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://test") as http:
            warm = await asyncio.gather(*(http.get(SEL, params=HOT) for _ in range(4)))
            assert all(r.status_code == 200 for r in warm)
            held = occupy(private_redis.port, admin)  # every slot Redis has left is taken

            burst = await asyncio.gather(*(http.get(SEL, params=HOT) for _ in range(30)))
            codes = [r.status_code for r in burst]
            assert set(codes) <= {200, 503}
            refused = [r.json()["detail"] for r in burst if r.status_code == 503]
            assert all(d in ("Redis is unavailable: too many connections", "Redis is unavailable: connection failed")
                       for d in refused), refused

            after = [(await http.get(SEL, params=HOT)).status_code for _ in range(30)]
            assert after == [200] * 30  # the live connections serve; no reconnect storm
    finally:
        for s in held:
            s.close()
        admin.close()


async def test_given_a_refused_burst_when_redis_is_still_full_then_the_pools_live_connections_serve(
    private_redis: RedisProcess,
) -> None:
    """The API's Redis client alone: connections Redis refused during the burst are not handed
    out again while it is full (the library would: the most recently released first)."""
    admin = redis.Redis.from_url(private_redis.url)
    admin.config_set("maxclients", MAXCLIENTS)
    client = make_redis(Settings(env="test", redis_url=private_redis.url))
    held: list[socket.socket] = []
    try:
        assert all(await asyncio.gather(*(client.ping() for _ in range(4))))
        held = occupy(private_redis.port, admin)
        burst = await asyncio.gather(*(client.ping() for _ in range(12)), return_exceptions=True)
        refused = [r for r in burst if isinstance(r, Exception)]
        assert refused and all(isinstance(r, redis.exceptions.ConnectionError) for r in refused)
        assert all([await client.ping() for _ in range(20)])  # Redis is still full
    finally:
        for s in held:
            s.close()
        await client.aclose()
        admin.close()
