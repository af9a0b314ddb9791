"""The sandbox's time: token expiry reads it, the latency of a request sleeps on it.

By default it is the wall clock, moved forward by ``advance`` (``POST /_sandbox/clock``). A held
clock (``hold()``) stops following the wall clock, and a sleep on it lasts until ``advance`` moves
time past its end: a test keeps a request in flight exactly as long as it needs, without racing
real time.

    state.clock.hold()
    state.faults.add(match="accounting_create_client", kind="latency", latency=1)
    ...start the request in a task...
    await state.clock.sleepers(1)   # it is in flight, asleep in its latency
    ...what happens meanwhile...
    state.clock.advance(1)          # it wakes and finishes

Use it from the event loop the sandbox runs on.
"""

from __future__ import annotations

import time

import anyio


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._held_at: float | None = None
        self._sleeping: list[tuple[float, anyio.Event]] = []  # (wake-up time, its event)
        self._waiters: list[anyio.Event] = []  # sleepers() calls waiting for a new sleeper

    def now(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        base = time.time() if self._held_at is None else self._held_at
        return base + self._offset

    def hold(self) -> None:
        """Stop following the wall clock: time moves, and sleeps end, only on ``advance``."""
        if self._held_at is None:
            self._held_at = time.time()

    def advance(self, seconds: float) -> None:
        """Move time forward; on a held clock, wake the sleeps that end by then."""
        self._offset += seconds
        now = self.now()
        for entry in list(self._sleeping):
            if entry[0] <= now:
                self._sleeping.remove(entry)
                entry[1].set()

    async def sleep(self, seconds: float) -> None:
        if self._held_at is None:
            await anyio.sleep(seconds)
            return
        entry = (self.now() + seconds, anyio.Event())
        self._sleeping.append(entry)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.set()
        try:
            await entry[1].wait()
        finally:
            if entry in self._sleeping:  # cancelled before its time
                self._sleeping.remove(entry)

    async def sleepers(self, count: int = 1) -> None:
        """Return once ``count`` sleeps are in progress on this held clock."""
        if self._held_at is None:
            raise RuntimeError("sleepers() waits on a held clock: call hold() first")
        while len(self._sleeping) < count:
            waiter = anyio.Event()
            self._waiters.append(waiter)
            await waiter.wait()
