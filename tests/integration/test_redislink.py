"""The hot path's pipelined connection (``api.redislink``) against a real ``redis-server``:
concurrent callers get their own replies, outages fail fast and heal, auth and db apply."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentload import keys
from agentload.api.redislink import RedisLink, open_link, pack
from agentload.reader.codec import dumps
from agentload.reader.store import CatalogStore
from tests.harness import RedisProcess


def test_given_arguments_when_packed_then_they_are_resp_bulk_strings() -> None:
    assert pack(("SET", "k", b"\x00v", 3)) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00v\r\n$1\r\n3\r\n"


async def test_given_many_concurrent_callers_when_they_share_one_link_then_each_gets_its_reply(
    private_redis: RedisProcess,
) -> None:
    link = RedisLink("127.0.0.1", private_redis.port)
    await asyncio.gather(*(link.call("SET", f"k{i}", f"v{i}") for i in range(300)))
    replies = await asyncio.gather(*(link.call("GET", f"k{i}") for i in range(300)))
    assert replies == [f"v{i}".encode() for i in range(300)]
    clients = redis.Redis(port=private_redis.port).client_list()
    assert len(clients) == 2  # the link's one connection and this check's
    with pytest.raises(ResponseError):
        await link.call("INCR", "k1")  # an error reply, and the link still works after it
    assert await link.call("GET", "k2") == b"v2"
    link.close()


async def test_given_redis_restarts_when_called_then_calls_fail_fast_and_the_link_reconnects(
    private_redis: RedisProcess,
) -> None:
    link = RedisLink("127.0.0.1", private_redis.port, timeout_s=0.5)
    assert await link.call("PING") == b"PONG"
    private_redis.stop()
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await link.call("PING")
    assert time.monotonic() - started < 1.0
    private_redis.start()
    assert await link.call("PING") == b"PONG"
    link.close()


async def test_given_a_frozen_redis_when_called_then_a_timeout_and_a_fresh_connection_after(
    private_redis: RedisProcess,
) -> None:
    link = RedisLink("127.0.0.1", private_redis.port, timeout_s=0.3)
    assert await link.call("PING") == b"PONG"
    assert private_redis.proc is not None
    os.kill(private_redis.proc.pid, signal.SIGSTOP)
    try:
        pending = [asyncio.ensure_future(link.call("PING")) for _ in range(3)]
        results = await asyncio.gather(*pending, return_exceptions=True)
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
    finally:
        os.kill(private_redis.proc.pid, signal.SIGCONT)
    # replies to the abandoned calls may still arrive on the old socket: a new one is used
    assert await link.call("ECHO", "after") == b"after"
    link.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_given_the_event_loop_stalls_past_the_timeout_when_redis_answered_then_replies_not_timeouts(
    private_redis: RedisProcess, loop: str,
) -> None:
    """An overloaded process comes back to the socket after the timeout: Redis answered long
    ago, its replies wait unread, and the calls get them (it is not Redis that was slow)."""
    import uvloop

    async def stalled() -> list[object]:
        link = RedisLink("127.0.0.1", private_redis.port, timeout_s=0.2)
        assert await link.call("PING") == b"PONG"
        calls = [asyncio.ensure_future(link.call("ECHO", f"m{i}")) for i in range(20)]
        await asyncio.sleep(0)  # every call is written and waits for its reply
        time.sleep(0.7)  # the loop does not run for over three timeouts
        replies = await asyncio.gather(*calls, return_exceptions=True)
        link.close()
        return replies

    with asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None) as runner:
        assert runner.run(stalled()) == [f"m{i}".encode() for i in range(20)]


async def test_given_a_password_and_a_db_in_the_url_when_called_then_both_apply(
    private_redis: RedisProcess,
) -> None:
    admin = redis.Redis(port=private_redis.port)
    admin.config_set("requirepass", "s3cret")
    try:
        link = open_link(f"redis://:s3cret@127.0.0.1:{private_redis.port}/3", 1.0)
        assert link is not None
        await link.call("SET", "where", "db3")
        authed = redis.Redis(port=private_redis.port, password="s3cret", db=3)
        assert authed.get("where") == b"db3"
        wrong = open_link(f"redis://:nope@127.0.0.1:{private_redis.port}/0", 1.0)
        assert wrong is not None
        with pytest.raises(RedisConnectionError, match="AUTH"):
            await wrong.call("PING")
        link.close()
    finally:
        redis.Redis(port=private_redis.port, password="s3cret").config_set("requirepass", "")


async def test_given_the_script_cache_flushed_when_probing_then_the_script_is_sent_again(
    private_redis: RedisProcess,
) -> None:
    import redis.asyncio as aioredis

    plain = redis.Redis(port=private_redis.port)
    plain.set(keys.CURRENT_VERSION, "v1")
    plain.set(keys.selection_key("v1", "k"), dumps({"agents": []}))
    plain.script_flush()
    store = CatalogStore(aioredis.Redis(port=private_redis.port))
    link = RedisLink("127.0.0.1", private_redis.port)
    cur, strategy, raw = await store.probe_selection("v1", "k", link)
    assert (cur, strategy) == ("v1", None) and raw is not None
    assert (await store.probe_selection("v1", "absent", link))[2] is None
    assert plain.hget(keys.stats_key("selections"), "hits") == b"1"
    assert plain.hget(keys.stats_key("selections"), "misses") is None  # a probe never counts a miss
    link.close()
