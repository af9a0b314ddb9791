"""Who gets a worker: at most ``workers`` programs at once, at most ``per_caller`` of them one caller's.

A program holds its worker process for its whole run (operation calls included), so programs that
never end would hold every worker and the other callers' programs would wait for them. Two limits
keep one caller from starving the others:

- ``per_caller`` (``CHIFT_CODE_MAX_PROGRAMS_PER_CALLER``), capped at ``workers - 1``: one caller's
  programs always leave a worker to the others. A caller (an HTTP bearer token or Chift token) past
  it waits for one of its own programs to end. A program of no known caller (``None``: over stdio,
  or HTTP without authentication) has no share: there is no other caller to leave a worker to — over
  stdio the one client, over anonymous HTTP every client is the same nobody, so a share would only
  cap them all together at ``workers - 1`` — and the pool's first-come-first-served wait is the
  only limit;
- ``workers`` (``CHIFT_CODE_WORKERS``): the pool's size. A program waits for a free one, first come
  first served.

Both waits together last at most ``wait`` seconds (``CHIFT_CODE_QUEUE_TIMEOUT``), never past the
request's deadline; then the program is refused with a :class:`~chift_mcp.errors.Busy` error that
names the limit, its setting and when to retry. A program's own wall time starts once it has its
worker: waiting never uses it up.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from chift_mcp.errors import Busy


class Admission:
    def __init__(self, *, workers: int, per_caller: int, wait: float) -> None:
        self.workers = workers
        self.per_caller = max(1, min(per_caller, workers - 1))
        self.wait = wait
        self.running: dict[str, int] = {}  # programs admitted or waiting for a worker, per caller
        self._slots = anyio.Semaphore(workers)
        self._ended = anyio.Event()  # set (and replaced) whenever a program ends

    @asynccontextmanager
    async def admitted(self, caller: str | None, *, within: float | None = None) -> AsyncIterator[float]:
        """Hold a worker slot for ``caller``'s program (None: no known caller, no share); yields the
        seconds it waited. ``within`` is how long the request carrying it may still wait, if it is
        shorter than ``wait``."""
        started = time.monotonic()
        wait = self.wait if within is None else max(0.0, min(self.wait, within))
        if caller is None:
            async with self._worker(wait, started):
                yield time.monotonic() - started
            return
        with anyio.move_on_after(wait):
            while self.running.get(caller, 0) >= self.per_caller:
                await self._ended.wait()
        if self.running.get(caller, 0) >= self.per_caller:
            raise self._busy(
                "programs per caller",
                "CHIFT_CODE_MAX_PROGRAMS_PER_CALLER",
                self.per_caller,
                f"this caller already runs {self.per_caller} programs",
                wait,
            )
        self.running[caller] = self.running.get(caller, 0) + 1
        try:
            async with self._worker(wait, started):
                yield time.monotonic() - started
        finally:
            self.running[caller] -= 1
            if not self.running[caller]:
                del self.running[caller]
            self._ended.set()
            self._ended = anyio.Event()

    @asynccontextmanager
    async def _worker(self, wait: float, started: float) -> AsyncIterator[None]:
        """Hold one of the pool's slots, waited for until ``wait`` seconds after ``started``."""
        got = False
        with anyio.move_on_after(max(0.0, wait - (time.monotonic() - started))):
            await self._slots.acquire()
            got = True
        if not got:
            raise self._busy(
                "workers",
                "CHIFT_CODE_WORKERS",
                self.workers,
                f"all {self.workers} workers are running programs",
                wait,
            )
        try:
            yield
        finally:
            self._slots.release()

    def _busy(self, limit: str, setting: str, value: int, what: str, waited: float) -> Busy:
        return Busy(
            f"no worker for this program: {what} ({setting}={value}); waited {waited:.3g} s",
            limit=limit,
            setting=setting,
            value=value,
            retry_after=max(1, math.ceil(waited)),
            hint="retry in a few seconds, or wait for your running programs to end; a program that "
            "does less per run holds its worker for less time",
        )
