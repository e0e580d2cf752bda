"""How far behind this process's event loop runs: tells "Redis timed out" from "we were busy".

redis-py bounds each read with a timer. When the event loop is busy for longer than that
timeout (an overloaded process, a long synchronous step), the timer fires before the loop
comes back to read a reply Redis sent long ago, and the read fails with a timeout exactly as
if Redis had hung. Answering that "Redis is unavailable" blames a healthy Redis (what
operators page on) for this process's overload.

``LoopLag`` ticks every ``TICK_S`` and remembers when the loop last came back late by at
least ``threshold_s``; ``behind()`` says whether that happened within the last ``window_s``,
or is happening now (the tick itself is overdue). ``errors.on_redis`` answers a timeout
"overloaded" when the loop was behind, "Redis is unavailable: timed out" otherwise. The
hot path's own connection needs none of this (``api.redislink`` looks in the socket before
it gives up); it is for everything served through redis-py.
"""

from __future__ import annotations

import asyncio

TICK_S = 0.1


class LoopLag:
    """Started on a running loop (``start``), stopped with ``stop``; ``behind`` any time after."""

    def __init__(self, threshold_s: float, window_s: float) -> None:
        self.threshold_s, self.window_s = threshold_s, window_s
        self.late_at = float("-inf")  # loop time of the last tick that came back late
        self.next_tick = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        self.next_tick = self._loop.time() + TICK_S
        self._handle = self._loop.call_at(self.next_tick, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        if self._loop.time() - self.next_tick >= self.threshold_s:
            self.late_at = self._loop.time()
        self._schedule()

    def behind(self) -> bool:
        """Whether the loop came back at least ``threshold_s`` late within ``window_s``, or is now."""
        if self._loop is None:
            return False
        now = self._loop.time()
        return now - self.next_tick >= self.threshold_s or now - self.late_at <= self.window_s

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._loop = None
