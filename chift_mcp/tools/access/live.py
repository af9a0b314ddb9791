"""Access that depends on live data: a bound consumer's connections, and each HTTP caller's grant.

:class:`ConsumerAccess` gives the configured :class:`~chift_mcp.tools.access.Access`, narrowed to the
domains of the bound consumer's active connections. The connections are fetched once in the
background, kept for ``ttl`` seconds and refreshed in the background after that (the stale value is
served meanwhile): no request ever waits on a network call except the very first one, and that one
for at most ``first_wait`` seconds (later ones get the configured domains until the fetch lands).
When the fetch fails, whatever the reason, the log says so and the configured domains stand until
the next attempt, ``ttl`` seconds later. A refresh that changes what the tool list would be (a
connection added, removed or deactivated) is announced to the callbacks registered with
``on_change``: the server turns that into ``notifications/tools/list_changed``.

:class:`CallerAccess` (the HTTP door) turns a caller — their token's grant and the consumer they
are bound to — into the access of one MCP request: the server's, narrowed by the grant. A caller
bound to another consumer than the server's gets that consumer's :class:`ConsumerAccess` (at most
``max_consumers`` of them, least recently used dropped).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote

from chift_mcp.errors import ToolError
from chift_mcp.openapi.operations import CONNECTION_APIS
from chift_mcp.tools.access.rules import Access, FunctionConfig

logger = logging.getLogger("chift_mcp.tools.access")

Listener = Callable[[str | None], Awaitable[None]]
FRESH = {"x-chift-force-refresh": "true"}  # Chift answers a GET with this header uncached


class Fetcher(Protocol):
    async def request(self, method: str, path: str, **kw: Any) -> Any: ...


def active_connections(connections: Any, domain: str | None = None) -> list[dict[str, Any]]:
    """The active connections in a /connections answer (a bare list, per Chift's spec), with the
    unified domain each serves; only those of ``domain`` when given."""
    items = connections.get("items") if isinstance(connections, dict) else connections
    if not isinstance(items, list):
        return []
    out = []
    for connection in items:
        if not isinstance(connection, dict):
            continue
        if str(connection.get("status", "active")).lower() != "active":
            continue
        served = CONNECTION_APIS.get(str(connection.get("api", "")))
        if served and domain in (None, served):
            out.append({**connection, "domain": served})
    return out


def active_domains(connections: Any) -> frozenset[str]:
    """The unified domains served by the active connections in a /connections answer."""
    return frozenset(c["domain"] for c in active_connections(connections))


def shared_domains(connections: Any) -> frozenset[str]:
    """The unified domains served by more than one active connection (their calls must choose one)."""
    served = [c["domain"] for c in active_connections(connections)]
    return frozenset(d for d in served if served.count(d) > 1)


class ConsumerAccess:
    """The live access of a server (or caller) bound to one consumer; the configured one otherwise."""

    def __init__(
        self,
        base: Access,
        upstream: Fetcher | None,
        *,
        ttl: float = 300.0,
        first_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.upstream = upstream
        self.ttl = ttl
        self.first_wait = first_wait
        self.clock = clock
        self._access: Access | None = None if base.consumer_id else base
        self._fetched_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._waited = False  # the first wait is paid once; later requests never wait
        self._fell_back = False  # the configured domains were served before the first fetch landed
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(consumer_id)`` after a refresh that changed the tool list."""
        self._listeners.append(listener)

    def for_consumer(self, consumer_id: str, *, ttl: float | None = None) -> ConsumerAccess:
        """A provider with this one's settings for another consumer, announcing changes to the same
        listeners (those registered later included)."""
        other = ConsumerAccess(
            self.base.narrowed(consumer_id=consumer_id),
            self.upstream,
            ttl=self.ttl if ttl is None else ttl,
            first_wait=self.first_wait,
            clock=self.clock,
        )
        other._listeners = self._listeners
        return other

    def start(self) -> None:
        """Begin the first fetch in the background (call from within the event loop)."""
        if self.base.consumer_id and self._task is None and self.upstream is not None:
            self._task = asyncio.create_task(self._refresh())

    async def current(self) -> Access:
        if not self.base.consumer_id or self.upstream is None:
            return self.base
        if self._access is None:
            self.start()
            assert self._task is not None
            if self._waited:  # the first request waited already: the others get the configured domains
                self._fell_back = True
                return self.base
            self._waited = True
            # asyncio.wait, not wait_for(shield(...)): a fetch cancelled meanwhile (its provider
            # dropped from a cache) must not cancel this request, which gets the configured domains
            done, _ = await asyncio.wait({self._task}, timeout=self.first_wait)
            if self._access is not None:  # landed (or landed in the turn the wait timed out)
                return self._access
            if not done:
                logger.warning(
                    "consumer connections not fetched after %.0f s; using the configured domains",
                    self.first_wait,
                )
            self._fell_back = True
            return self.base
        if self.clock() - self._fetched_at > self.ttl and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh())
        return self._access

    async def refreshed(self) -> Access:
        """Fetch the connections now (tests, or a caller that knows they changed) and return the access."""
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        self._task = asyncio.create_task(self._refresh())
        await asyncio.shield(self._task)
        return await self.current()

    async def aclose(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()

    async def _refresh(self) -> None:
        consumer = self.base.consumer_id or ""
        assert self.upstream is not None
        try:
            answer = await self.upstream.request("GET", f"/consumers/{quote(consumer, safe='')}/connections")
            domains = active_domains(answer)
            shared = shared_domains(answer)
        except Exception as exc:  # whatever happens, requests go on with the configured domains
            reason = f"{exc.code}: {exc.message}" if isinstance(exc, ToolError) else type(exc).__name__
            logger.warning(
                "could not fetch the connections of consumer %s (%s); using the configured domains",
                consumer,
                reason,
            )
            self._access = self._access or self.base
            self._fetched_at = self.clock()
            return
        seen = self._access or (self.base if self._fell_back else None)  # what clients may have listed
        self._access = replace(self.base, active_domains=domains, shared_domains=shared)
        self._fetched_at = self.clock()
        logger.info(
            "consumer %s has active connections for: %s", consumer, ", ".join(sorted(domains)) or "none"
        )
        if seen is not None and seen.key != self._access.key:
            await self._announce()

    async def _announce(self) -> None:
        for listener in self._listeners:
            try:
                await listener(self.base.consumer_id)
            except Exception:  # a client that went away must not stop the others hearing of it
                logger.warning("could not announce a tool list change", exc_info=True)


class Grant(Protocol):
    """What a caller's token allows on top of the server's access (``chift_mcp.tokens.Grant``)."""

    @property
    def function_config(self) -> FunctionConfig | None: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def tool_mode(self) -> str | None: ...


@dataclass(frozen=True)
class Caller:
    """Who sent an HTTP request: their token's grant and the consumer they are bound to."""

    grant: Any  # a Grant
    consumer_id: str | None = None


class AccountConsumers:
    """The ids of the account's consumers (``GET /consumers``), to check a consumer a caller names
    before it costs anything: fetched when an id is not among them, at most once every ``refresh``
    seconds, one fetch at a time (the callers that ask meanwhile wait for the same one). Each fetch
    bypasses Chift's 5-minute GET cache (``x-chift-force-refresh``): it only happens on a miss, and a
    cached list would refuse a consumer created in the last five minutes."""

    def __init__(
        self, upstream: Fetcher, *, refresh: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.upstream = upstream
        self.refresh = refresh
        self.clock = clock
        self.fetches = 0
        self._ids: frozenset[str] | None = None
        self._fetched_at = -math.inf
        self._task: asyncio.Task[None] | None = None

    async def has(self, consumer_id: str) -> bool | None:
        """Whether the account has this consumer; None when the list cannot be had (Chift decides)."""
        wanted = consumer_id.lower()
        if self._ids is not None and wanted in self._ids:
            return True
        if self.clock() - self._fetched_at >= self.refresh or (
            self._task is not None and not self._task.done()
        ):
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._fetch())
            await asyncio.shield(self._task)
        if self._ids is None:
            return None
        return wanted in self._ids

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            answer = await self.upstream.request("GET", "/consumers", headers=FRESH)
        except Exception as exc:  # Chift is down or refuses: the calls themselves will say so
            reason = f"{exc.code}: {exc.message}" if isinstance(exc, ToolError) else type(exc).__name__
            logger.warning("could not list the account's consumers (%s)", reason)
            return
        finally:
            self._fetched_at = self.clock()
        items = answer.get("items") if isinstance(answer, dict) else answer
        if isinstance(items, list):
            self._ids = frozenset(
                str(item.get("consumerid")).lower() for item in items if isinstance(item, dict)
            )


class _Bounded:
    """A Fetcher that lets at most ``semaphore``'s size of requests through at once."""

    def __init__(self, upstream: Fetcher, semaphore: asyncio.Semaphore) -> None:
        self.upstream = upstream
        self.semaphore = semaphore

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        async with self.semaphore:
            return await self.upstream.request(method, path, **kw)


class CallerAccess:
    """The access of one HTTP caller: the server's, narrowed by their grant.

    In pass-through mode (``track_connections=False``) the connections are not looked up: each
    caller's own Chift token is what Chift authorises, and no caller's answer is cached for another.

    What one caller can cost: a consumer it names must be one of the account's
    (:meth:`check_consumer`, :class:`AccountConsumers`); it has at most ``lookups_per_minute`` consumers'
    connections looked up a minute (past that, the configured domains: nothing fetched, nothing
    cached); it holds at most a quarter of the ``max_consumers`` cached entries (its own oldest goes
    first); and at most ``lookups_in_flight`` lookups run at once, all callers together.
    """

    def __init__(
        self,
        server: ConsumerAccess,
        *,
        ttl: float = 300.0,
        track_connections: bool = True,
        max_consumers: int = 256,
        lookups_per_minute: int = 20,
        lookups_in_flight: int = 4,
        consumers_refresh: float = 30.0,
    ) -> None:
        self.server = server
        self.ttl = ttl
        self.track_connections = track_connections
        self.max_consumers = max_consumers
        self.per_caller = max(1, max_consumers // 4)
        self.lookups_per_minute = lookups_per_minute
        self._consumers: OrderedDict[str, tuple[ConsumerAccess, str]] = OrderedDict()
        self._held: Counter[str] = Counter()
        self._lookups: dict[str, deque[float]] = {}
        upstream = server.upstream
        self._upstream = _Bounded(upstream, asyncio.Semaphore(lookups_in_flight)) if upstream else None
        self.account = (
            AccountConsumers(self._upstream, refresh=consumers_refresh, clock=server.clock)
            if self._upstream is not None and track_connections
            else None
        )

    @property
    def server_consumer(self) -> str | None:
        return self.server.base.consumer_id

    async def check_consumer(self, consumer_id: str) -> bool:
        """False when the account is known not to have this consumer (nothing else is sent)."""
        if self.account is None or consumer_id == self.server_consumer:
            return True
        return await self.account.has(consumer_id) is not False

    async def resolve(self, caller: Caller) -> Access:
        consumer = caller.consumer_id
        if not self.track_connections:
            base = self.server.base.narrowed(consumer_id=consumer)
        elif consumer is None or consumer == self.server_consumer:
            base = await self.server.current()
        else:
            provider = self._consumer(consumer, str(getattr(caller.grant, "name", "")))
            base = (
                await provider.current()
                if provider is not None
                else self.server.base.narrowed(consumer_id=consumer)
            )
        grant = caller.grant
        config = grant.function_config
        kinds: Mapping[str, frozenset[str]] | None = dict(config) if config is not None else None
        return base.narrowed(function_config=kinds, read_only=grant.read_only, mode=grant.tool_mode)

    def _consumer(self, consumer: str, who: str) -> ConsumerAccess | None:
        found = self._consumers.get(consumer)
        if found is not None:
            self._consumers.move_to_end(consumer)
            return found[0]
        if not self._may_look_up(who):
            return None
        provider = self.server.for_consumer(consumer, ttl=self.ttl)
        provider.upstream = self._upstream
        if self._held[who] >= self.per_caller:  # its own oldest goes, not another caller's
            self._drop(next(c for c, (_, owner) in self._consumers.items() if owner == who))
        self._consumers[consumer] = (provider, who)
        self._held[who] += 1
        while len(self._consumers) > self.max_consumers:
            self._drop(next(iter(self._consumers)))
        return provider

    def _may_look_up(self, who: str) -> bool:
        now = self.server.clock()
        times = self._lookups.get(who)
        if times is None:
            times = self._lookups[who] = deque(maxlen=self.lookups_per_minute)
        if len(times) == self.lookups_per_minute and now - times[0] < 60:
            return False
        times.append(now)
        return True

    def _drop(self, consumer: str) -> None:
        provider, owner = self._consumers.pop(consumer)
        self._held[owner] -= 1
        if not self._held[owner]:
            del self._held[owner]
        if provider._task is not None and not provider._task.done():
            provider._task.cancel()

    async def aclose(self) -> None:
        for provider, _ in self._consumers.values():
            await provider.aclose()
        self._consumers.clear()
        self._held.clear()
