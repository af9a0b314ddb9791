"""The live scope of a consumer-bound server: its consumer's active connections, cached.

``ScopeProvider.current()`` returns the configured :class:`~chift_mcp.toolset.Scope`, narrowed to
the domains of the bound consumer's active connections. The connections are fetched once in the
background, kept for ``ttl`` seconds and refreshed in the background after that (the stale value
is served meanwhile): no request ever waits on a network call except the very first one, and that
one for at most ``first_wait`` seconds (later ones get the configured domains until the fetch
lands). When the fetch fails, whatever the reason, the log says so and the configured domains
stand until the next attempt, ``ttl`` seconds later.

A refresh that changes what the tool list would be (a connection added, removed or deactivated) is
announced to the callbacks registered with ``on_change``: the server turns that into
``notifications/tools/list_changed`` for its clients.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from chift_mcp.errors import ToolError
from chift_mcp.operations import CONNECTION_APIS
from chift_mcp.registry import Upstream
from chift_mcp.toolset import Scope

logger = logging.getLogger("chift_mcp.connections")


def active_domains(connections: Any) -> frozenset[str]:
    """The unified domains served by the active connections in a /connections answer."""
    items = connections.get("items") if isinstance(connections, dict) else connections
    if not isinstance(items, list):
        return frozenset()
    domains = set()
    for connection in items:
        if not isinstance(connection, dict):
            continue
        if str(connection.get("status", "active")).lower() != "active":
            continue
        domain = CONNECTION_APIS.get(str(connection.get("api", "")))
        if domain:
            domains.add(domain)
    return frozenset(domains)


class ScopeProvider:
    def __init__(
        self, base: Scope, upstream: Upstream, *, ttl: float = 300.0, first_wait: float = 5.0
    ) -> None:
        self.base = base
        self.upstream = upstream
        self.ttl = ttl
        self.first_wait = first_wait
        self._scope: Scope | None = None if base.consumer_id else base
        self._fetched_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._waited = False  # the first wait is paid once; later requests never wait
        self._fell_back = False  # the configured domains were served before the first fetch landed
        self._listeners: list[Callable[[str | None], Awaitable[None]]] = []

    def on_change(self, listener: Callable[[str | None], Awaitable[None]]) -> None:
        """Call ``listener`` after a refresh that changed the scope's tool list."""
        self._listeners.append(listener)

    def for_consumer(self, consumer_id: str, *, ttl: float | None = None) -> ScopeProvider:
        """A provider with this one's settings for another consumer, announcing changes to the same
        listeners (those registered later included)."""
        other = ScopeProvider(
            self.base.narrowed(consumer_id=consumer_id),
            self.upstream,
            ttl=self.ttl if ttl is None else ttl,
            first_wait=self.first_wait,
        )
        other._listeners = self._listeners
        return other

    def start(self) -> None:
        """Begin the first fetch in the background (call from within the event loop)."""
        if self.base.consumer_id and self._task is None:
            self._task = asyncio.create_task(self._refresh())

    async def current(self) -> Scope:
        if not self.base.consumer_id:
            return self.base
        if self._scope is None:
            self.start()
            assert self._task is not None
            if self._waited:  # the first request waited already: the others get the configured domains
                self._fell_back = True
                return self.base
            self._waited = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self.first_wait)
            except TimeoutError:
                if self._scope is not None:  # the fetch landed in the turn the wait timed out
                    return self._scope
                logger.warning(
                    "consumer connections not fetched after %.0f s; using the configured domains",
                    self.first_wait,
                )
                self._fell_back = True
                return self.base
            return self._scope or self.base
        if time.monotonic() - self._fetched_at > self.ttl and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh())
        return self._scope

    async def aclose(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()

    async def _refresh(self) -> None:
        consumer = self.base.consumer_id or ""
        try:
            answer = await self.upstream.request("GET", f"/consumers/{quote(consumer, safe='')}/connections")
            domains = active_domains(answer)
        except Exception as exc:  # whatever happens, requests go on with the configured domains
            reason = f"{exc.code}: {exc.message}" if isinstance(exc, ToolError) else type(exc).__name__
            logger.warning(
                "could not fetch the connections of consumer %s (%s); using the configured domains",
                consumer,
                reason,
            )
            self._scope = self._scope or self.base
            self._fetched_at = time.monotonic()
            return
        seen = self._scope or (self.base if self._fell_back else None)  # what clients may have listed
        self._scope = replace(self.base, active_domains=domains)
        self._fetched_at = time.monotonic()
        logger.info(
            "consumer %s has active connections for: %s", consumer, ", ".join(sorted(domains)) or "none"
        )
        if seen is not None and seen.view != self._scope.view:
            await self._announce()

    async def _announce(self) -> None:
        for listener in self._listeners:
            try:
                await listener(self.base.consumer_id)
            except Exception:  # a client that went away must not stop the others hearing of it
                logger.warning("could not announce a tool list change", exc_info=True)
