"""Duplicate-beat detection: every beat registers a heartbeat in one Redis hash.

Two beats double every periodic task. The catalog refresh is protected by a Redis lock
anyway, but a second beat is always a deployment mistake, so it must be loud: each beat
writes ``beat_id -> heartbeat timestamp`` into ``keys.BEAT_INSTANCES`` and logs a WARNING
whenever another *live* (recently heartbeating) beat is registered.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

import redis

from agentload import keys

logger = logging.getLogger("agentload.beat")

HEARTBEAT_S = 5.0
#: a beat that missed this many seconds of heartbeats is considered dead
STALE_AFTER_S = 3 * HEARTBEAT_S


def new_beat_id() -> str:
    """Unique per process start (host:pid alone can repeat after a restart in a container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BeatRegistry:
    """Heartbeat of one beat process in ``keys.BEAT_INSTANCES``."""

    def __init__(
        self,
        client: redis.Redis,
        beat_id: str,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.beat_id = beat_id
        self.stale_after_s = stale_after_s
        self.clock = clock
        self._reported: frozenset[str] = frozenset()

    def heartbeat(self) -> list[str]:
        """Record our heartbeat, drop dead entries, return the ids of *other* live beats."""
        now = self.clock()
        self.client.hset(keys.BEAT_INSTANCES, self.beat_id, f"{now:.3f}")
        entries: dict[bytes | str, bytes | str] = self.client.hgetall(keys.BEAT_INSTANCES)
        others: list[str] = []
        for raw_id, raw_ts in entries.items():
            beat_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            ts = float(raw_ts)
            if now - ts > self.stale_after_s or (beat_id != self.beat_id and self._gone_here(beat_id)):
                self.client.hdel(keys.BEAT_INSTANCES, beat_id)
            elif beat_id != self.beat_id:
                others.append(beat_id)
        return sorted(others)

    def _gone_here(self, beat_id: str) -> bool:
        """A beat of this host whose process is gone: a crashed predecessor, not a duplicate
        (a beat restarted within ``stale_after_s`` of a crash saw its own ghost). In a
        restarted container the old pid may be this process's own."""
        host, _, rest = beat_id.partition(":")
        mine, _, _ = self.beat_id.partition(":")
        pid = rest.partition(":")[0]
        if host != mine or not pid.isdigit():
            return False
        if int(pid) == os.getpid():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def check(self) -> list[str]:
        """Heartbeat and warn (once per new set of duplicates) about other live beats."""
        others = self.heartbeat()
        current = frozenset(others)
        if current and current != self._reported:
            logger.warning(
                "DUPLICATE CELERY BEAT: %d other live beat instance(s) registered in Redis %s: %s "
                "(this one: %s). Periodic tasks will be sent more than once; run exactly one beat.",
                len(others),
                keys.BEAT_INSTANCES,
                ", ".join(others),
                self.beat_id,
            )
        self._reported = current
        return others

    def unregister(self) -> None:
        """Remove our entry so a clean restart does not look like a duplicate."""
        self.client.hdel(keys.BEAT_INSTANCES, self.beat_id)


def _heartbeat_loop(registry: BeatRegistry, stop: threading.Event, interval_s: float) -> None:
    while not stop.wait(interval_s):
        try:
            registry.check()
        except redis.RedisError:
            # a Redis outage must not kill the scheduler thread; beat itself reports it too
            logger.exception("beat heartbeat to Redis failed; will retry in %.0fs", interval_s)


def start_guard(redis_url: str, interval_s: float = HEARTBEAT_S) -> BeatRegistry:
    """Register this beat, warn about duplicates now, then keep heartbeating in a daemon thread."""
    registry = BeatRegistry(redis.Redis.from_url(redis_url), new_beat_id())
    registry.check()
    logger.info("beat registered as %s in %s", registry.beat_id, keys.BEAT_INSTANCES)
    stop = threading.Event()
    thread = threading.Thread(target=_heartbeat_loop, args=(registry, stop, interval_s), name="beat-guard", daemon=True)
    thread.start()

    def _shutdown() -> None:
        stop.set()
        registry.unregister()

    atexit.register(_shutdown)
    return registry
