"""Limits the doors put on callers and on the requests they cause, apart from what a call does.

- :class:`CallLimits`: tool calls per minute per HTTP caller (a token entry's ``rate_limit``, else
  ``CHIFT_MCP_RATE_LIMIT``), counted by the ``limits`` library over a moving window, in memory or in
  Redis (``CHIFT_RATE_LIMIT_STORAGE=redis://…``: every replica counts in the same place, so the limit
  holds for all of them together). A call over the limit is answered as a ``RATE_LIMITED`` tool error
  with ``retry_after`` seconds, and nothing is sent to Chift. When the storage cannot be reached the
  call goes through (the limit fails open) and the log says so, once a minute at most.
- :class:`ConsumerGate`: at most ``CHIFT_UPSTREAM_CONCURRENCY`` Chift requests in flight per consumer
  in this process (Chift's connectors rate-limit per connection); the others wait their turn. It wraps
  whatever the registry sends requests through (``async request(method, path, **kw)``).
"""

from __future__ import annotations

__all__ = ["CallLimits", "ConsumerGate", "gate_upstream", "storage_uri"]

import contextlib
import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio

from chift_mcp.chift.client import deadline_in
from chift_mcp.chift.hints import check_before_resending
from chift_mcp.chift.paths import consumer_of
from chift_mcp.errors import ConfigError, RateLimited, UnreachableError
from chift_mcp.tools.result import ToolResult, dumps

if TYPE_CHECKING:
    from chift_mcp.settings import Settings

logger = logging.getLogger("chift_mcp.limits")

KEY_PREFIX = "chift-mcp"
DRAIN_GRACE = 0.5  # seconds a call already waiting on Chift gets past the drain deadline
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STORAGE_SCHEMES = {"redis": "async+redis", "rediss": "async+rediss", "redis+unix": "async+redis+unix"}


def storage_uri(raw: str | None) -> str:
    """The ``limits`` storage URI for ``CHIFT_RATE_LIMIT_STORAGE`` (memory when unset)."""
    if not raw or raw.strip() == "memory://":
        return "memory://"
    scheme, sep, rest = raw.strip().partition("://")
    if not sep or scheme.lower().removeprefix("async+") not in _STORAGE_SCHEMES:
        raise ConfigError(
            "CHIFT_RATE_LIMIT_STORAGE must be redis://host:port[/db] (or rediss://, redis+unix://), "
            "or unset for in-memory limits"
        )
    return f"{_STORAGE_SCHEMES[scheme.lower().removeprefix('async+')]}://{rest}"


class CallLimits:
    """Tool calls per minute per caller (see the module docstring)."""

    def __init__(self, default: int | None, storage: str = "memory://") -> None:
        from limits import RateLimitItemPerMinute
        from limits.aio.strategies import MovingWindowRateLimiter
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter as InProcessLimiter

        self.default = default
        self.storage = storage_from_string(storage, key_prefix=KEY_PREFIX)
        self.shared = storage != "memory://"
        # In memory, the synchronous storage: no I/O to wait for, and its expiry runs on a timer
        # thread every 10 ms (the async one hands every hit's expiry to a worker thread: 45 us a hit
        # instead of 2-4 us, measured).
        self._local = None if self.shared else InProcessLimiter(self.storage)
        self._limiter = MovingWindowRateLimiter(self.storage) if self.shared else None
        self._items: dict[int, Any] = {}
        self._item = RateLimitItemPerMinute
        self._warned_at = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> CallLimits:
        return cls(settings.mcp_rate_limit, storage_uri(settings.rate_limit_storage))

    async def check_storage(self) -> bool:
        """Whether the storage answers (logged at start-up: a shared limit that cannot be counted fails open)."""
        try:
            ok = bool(await cast(Any, self.storage).check())
        except Exception:
            ok = False
        if not ok:
            logger.warning("the rate limit storage does not answer: calls go through unlimited until it does")
        return ok

    async def admit(self, who: str, per_minute: int | None) -> ToolResult | None:
        """None when ``who`` may make one more tool call now (it is counted), else the tool error."""
        limit = per_minute or self.default
        retry_after = await self.retry_after(who, per_minute)
        if retry_after is None or limit is None:
            return None
        error = RateLimited(
            f"rate limit reached: this token may make {limit} tool calls per minute",
            retry_after=retry_after,
            hint=f"wait {retry_after} s and call again; nothing was sent to Chift",
        )
        payload = error.payload()
        return ToolResult(dumps(payload), payload, is_error=True)

    async def retry_after(self, who: str, per_minute: int | None) -> int | None:
        """Count one more hit for ``who``: None when it is within the limit, else the seconds to wait."""
        limit = per_minute or self.default
        if limit is None:
            return None
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = self._item(limit)
        try:
            if self._local is not None:
                if self._local.hit(item, who):
                    return None
                reset = self._local.get_window_stats(item, who).reset_time
            else:
                assert self._limiter is not None
                if await self._limiter.hit(item, who):
                    return None
                reset = (await self._limiter.get_window_stats(item, who)).reset_time
        except Exception as exc:  # the storage is down: fail open, say so now and then
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limit not counted (%s): the call goes through", type(exc).__name__)
            return None
        return max(1, math.ceil(reset - time.time()))


class _Slot:
    __slots__ = ("semaphore", "users")

    def __init__(self, size: int) -> None:
        self.semaphore = anyio.Semaphore(size)
        self.users = 0


class ConsumerGate:
    """At most ``per_consumer`` requests in flight per consumer through ``upstream`` (the others wait).

    The consumer is the ``/consumers/{id}/...`` segment of the path; account-level requests share one
    slot set. Only consumers with a request in flight or waiting are remembered.
    """

    def __init__(self, upstream: Any, per_consumer: int) -> None:
        self.upstream = upstream
        self.per_consumer = per_consumer
        self._slots: dict[str, _Slot] = {}
        self.drain_at: float | None = None  # time.monotonic() by which every call must be over
        self._running: set[anyio.CancelScope] = set()

    def drain_by(self, at: float) -> None:
        """Shutting down: every call must be over by ``at`` (``time.monotonic()``). The ones that
        start from now on get it as their deadline (the client ends them with the error that names a
        write's client request id); the ones already waiting on Chift are cut a little after it and
        answered with that error here."""
        self.drain_at = at if self.drain_at is None else min(at, self.drain_at)
        for scope in self._running:
            scope.deadline = min(scope.deadline, self.drain_at + DRAIN_GRACE)

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        key = consumer_of(path)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(self.per_consumer)
        slot.users += 1
        try:
            try:  # a free slot is taken without a trip through the event loop
                slot.semaphore.acquire_nowait()
            except anyio.WouldBlock:
                await slot.semaphore.acquire()
            try:
                return await self._send(method, path, **kw)
            finally:
                slot.semaphore.release()
        finally:
            slot.users -= 1
            if not slot.users:
                del self._slots[key]

    async def _send(self, method: str, path: str, **kw: Any) -> Any:
        deadline = math.inf if self.drain_at is None else self.drain_at + DRAIN_GRACE
        drain: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.drain_at is not None:
            drain = deadline_in(max(0.0, self.drain_at - time.monotonic()))
        with anyio.CancelScope(deadline=deadline) as scope, drain:
            self._running.add(scope)
            try:
                return await self.upstream.request(method, path, **kw)
            finally:
                self._running.discard(scope)
        rid = kw.get("request_id")
        writes = kw.get("writes")
        if writes is None:
            writes = method.upper() in WRITE_METHODS
        hint = (
            check_before_resending(method.upper(), path, rid, "the server shut down").lstrip()
            if writes and rid
            else "nothing is known to have changed: call again (another replica answers)"
        )
        raise UnreachableError(
            f"Gave up on {method.upper()} {path}: this server is shutting down and Chift had not answered.",
            hint=hint,
            request_id=rid if writes else None,
        )

    def in_flight(self) -> Mapping[str, int]:
        """Requests in flight or waiting, per consumer (for tests and metrics)."""
        return {key: slot.users for key, slot in self._slots.items()}


def gate_upstream(runtime: Any, per_consumer: int) -> ConsumerGate:
    """Put a :class:`ConsumerGate` in front of what the registry (and the connection lookups) send
    requests through; returns it."""
    gate = ConsumerGate(runtime.registry.upstream, per_consumer)
    if runtime.registry.upstream is not None:
        runtime.registry.upstream = gate
        if runtime.access.upstream is not None:
            runtime.access.upstream = gate
    return gate
