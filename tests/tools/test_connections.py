"""A bound consumer's scope: fetched once in the background, cached with a TTL, failures fall back.

Time is a :class:`ManualClock` given to ``ConsumerAccess(clock=...)``: a test moves past the TTL by
saying so, and waits on what the fake upstream or a listener signals, never on a sleep.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from support.inproc import ManualClock

from chift_mcp.errors import UnreachableError
from chift_mcp.tools.access import (
    Access,
    Caller,
    CallerAccess,
    ConsumerAccess,
    active_domains,
    parse_function_config,
)
from chift_mcp.tools.access.live import AccountConsumers

pytestmark = pytest.mark.anyio
BASE = Access.of(parse_function_config(None), consumer_id="c1")
TTL = 300
ACCOUNTING = [{"api": "Accounting", "status": "active"}]
INVOICING = [{"api": "Invoicing", "status": "active"}]


class Connections:
    """Answers /consumers/{consumer}/connections with ``answers`` in turn (the last one repeated);
    an exception is raised. ``release``, when given, holds every answer until it is set."""

    def __init__(self, answers: list[Any], release: anyio.Event | None = None) -> None:
        self.answers = answers
        self.release = release
        self.calls = 0
        self.done = 0  # fetches answered
        self.paths: list[str] = []
        self._answered = anyio.Event()

    async def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> Any:
        self.calls += 1
        self.paths.append(path)
        if self.release is not None:
            await self.release.wait()
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        # Nothing awaits from here to the provider storing the answer: once a waiter runs, it is stored.
        self.done += 1
        self._answered.set()
        self._answered = anyio.Event()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def answered(self, fetches: int) -> None:
        """Wait until ``fetches`` fetches have been answered and their answers stored."""
        with anyio.fail_after(5):
            while self.done < fetches:
                await self._answered.wait()


class Never:
    """An upstream whose fetch never answers."""

    calls = 0

    async def request(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        await anyio.Event().wait()


def test_active_domains_keep_only_active_connections_of_known_apis() -> None:
    answer = [
        {"api": "Accounting", "status": "active"},
        {"api": "Point of Sale", "status": "inactive"},
        {"api": "eCommerce", "status": "active"},
        {"api": "Custom", "status": "active"},
        "junk",
    ]
    assert active_domains(answer) == frozenset({"accounting", "ecommerce"})
    assert active_domains({"items": answer}) == frozenset({"accounting", "ecommerce"})


async def test_fetched_once_then_served_from_cache_until_the_ttl() -> None:
    clock = ManualClock()
    upstream = Connections([ACCOUNTING, INVOICING])
    provider = ConsumerAccess(BASE, upstream, ttl=TTL, clock=clock)
    first = await provider.current()
    for _ in range(5):
        assert await provider.current() is first
    clock.advance(TTL)  # not past it yet
    assert await provider.current() is first
    assert first.active_domains == frozenset({"accounting"}) and upstream.calls == 1
    assert upstream.paths == ["/consumers/c1/connections"]


async def test_stale_scope_is_served_while_a_background_refresh_runs() -> None:
    clock = ManualClock()
    upstream = Connections([ACCOUNTING, INVOICING])
    provider = ConsumerAccess(BASE, upstream, ttl=TTL, clock=clock)
    first = await provider.current()
    clock.advance(TTL + 1)
    stale = await provider.current()  # past the TTL: the old scope now, a refresh in the background
    assert stale is first and stale.active_domains == frozenset({"accounting"})
    await upstream.answered(2)
    fresh = await provider.current()
    assert fresh.active_domains == frozenset({"invoicing"}) and fresh.consumer_id == "c1"
    assert upstream.calls == 2  # one refresh, not one per request


async def test_a_failed_fetch_is_logged_and_falls_back_to_the_configured_domains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream = Connections([UnreachableError("Could not reach the Chift API at https://api.chift.eu")])
    provider = ConsumerAccess(BASE, upstream, ttl=300)
    with caplog.at_level(logging.WARNING, logger="chift_mcp.tools.access"):
        scope = await provider.current()
    assert scope == BASE and scope.active_domains is None
    assert (
        "could not fetch the connections of consumer c1" in caplog.text
        and "configured domains" in caplog.text
    )


async def test_unbound_servers_never_fetch() -> None:
    upstream = Connections([])
    unbound = Access.of(parse_function_config(None))
    assert await ConsumerAccess(unbound, upstream).current() is unbound and upstream.calls == 0


async def test_a_malformed_answer_never_wedges_the_server() -> None:
    clock = ManualClock()
    upstream = Connections([{"items": None}, ValueError("boom")])
    provider = ConsumerAccess(BASE, upstream, ttl=TTL, clock=clock)
    malformed = await provider.current()
    assert malformed.active_domains == frozenset()  # no connection it can read: no domain
    for calls in (2, 3, 4):
        clock.advance(TTL + 1)
        scope = await provider.current()  # a refresh that raises a non-ToolError: still served
        await upstream.answered(calls)
        # The last scope it could read stands: neither the configured domains nor an error.
        assert scope is malformed and await provider.current() is malformed
    assert upstream.calls == 4


async def test_only_the_first_request_waits_for_a_slow_fetch(caplog: pytest.LogCaptureFixture) -> None:
    upstream = Never()
    provider = ConsumerAccess(BASE, upstream, first_wait=0.05)
    with caplog.at_level(logging.WARNING, logger="chift_mcp.tools.access"), anyio.fail_after(5):
        assert await provider.current() == BASE  # waited first_wait, then the configured domains
    assert "not fetched after" in caplog.text
    # The later requests do not wait at all: not one of them reaches a point where it could be cancelled.
    with anyio.CancelScope() as scope:
        scope.cancel()
        for _ in range(5):
            assert await provider.current() == BASE
    assert not scope.cancelled_caught and upstream.calls == 1
    await provider.aclose()


async def test_a_refresh_that_changes_the_domains_is_announced_once() -> None:
    clock = ManualClock()
    upstream = Connections(
        [
            ACCOUNTING,
            ACCOUNTING,  # same domains: nothing to announce
            [{"api": "Accounting", "status": "active"}, {"api": "Point of Sale", "status": "active"}],
        ]
    )
    provider = ConsumerAccess(BASE, upstream, ttl=TTL, clock=clock)
    heard: list[tuple[str | None, frozenset[str] | None]] = []
    announced = anyio.Event()

    async def listener(consumer: str | None) -> None:
        heard.append((consumer, (await provider.current()).active_domains))
        announced.set()

    provider.on_change(listener)
    await provider.current()  # the first fetch: nobody listed anything before it, no announcement
    clock.advance(TTL + 1)
    await provider.current()
    await upstream.answered(2)
    assert heard == []
    clock.advance(TTL + 1)
    await provider.current()
    with anyio.fail_after(5):
        await announced.wait()
    assert heard == [("c1", frozenset({"accounting", "pos"}))] and upstream.calls == 3


async def test_the_first_fetch_is_announced_when_the_configured_domains_were_served_meanwhile() -> None:
    release = anyio.Event()
    upstream = Connections([ACCOUNTING], release=release)
    provider = ConsumerAccess(BASE, upstream, first_wait=0.05)
    heard = anyio.Event()

    async def listener(consumer: str | None) -> None:
        heard.set()

    async def broken(consumer: str | None) -> None:
        raise RuntimeError("a client that went away")

    provider.on_change(broken)  # must not keep the others from hearing of it
    provider.on_change(listener)
    with anyio.fail_after(5):
        assert await provider.current() == BASE  # the fetch is held: served the configured domains
    release.set()
    with anyio.fail_after(5):
        await heard.wait()
    assert (await provider.current()).active_domains == frozenset({"accounting"})


async def test_a_provider_for_another_consumer_announces_to_the_same_listeners() -> None:
    clock = ManualClock()
    upstream = Connections([ACCOUNTING, INVOICING])
    unbound = Access.of(parse_function_config(None))
    provider = ConsumerAccess(unbound, upstream, ttl=TTL, clock=clock)
    heard: list[str | None] = []
    announced = anyio.Event()

    async def listener(consumer: str | None) -> None:
        heard.append(consumer)
        announced.set()

    other = provider.for_consumer("c2")
    provider.on_change(listener)  # registered after the other provider was made: still shared
    first = await other.current()
    assert first.consumer_id == "c2" and first.active_domains == frozenset({"accounting"})
    clock.advance(TTL + 1)  # the other provider keeps this one's clock and TTL
    await other.current()
    with anyio.fail_after(5):
        await announced.wait()
    assert heard == ["c2"] and upstream.paths == ["/consumers/c2/connections"] * 2
    assert (await other.current()).active_domains == frozenset({"invoicing"})
    assert await provider.current() is unbound  # the unbound server's own scope never fetched


async def test_a_second_active_connection_on_one_api_makes_that_api_shared() -> None:
    """Two active accounting connections: accounting is shared (its tools list connection_id); an
    inactive second one, or one on another API, does not count."""
    two = [*ACCOUNTING, {"api": "Accounting", "status": "active"}, {"api": "Invoicing", "status": "active"}]
    provider = ConsumerAccess(BASE, Connections([two]), ttl=TTL, clock=ManualClock())
    access = await provider.refreshed()
    assert access.shared_domains == {"accounting"}
    assert access.key != (await ConsumerAccess(BASE, Connections([ACCOUNTING])).refreshed()).key
    inactive = [*ACCOUNTING, {"api": "Accounting", "status": "inactive"}, *INVOICING]
    assert (await ConsumerAccess(BASE, Connections([inactive])).refreshed()).shared_domains == frozenset()


class Grant:
    name = "t1"
    function_config = None
    read_only = False
    tool_mode = None


async def test_a_request_waiting_on_a_first_fetch_is_answered_when_its_cache_entry_is_dropped() -> None:
    """One caller holds one cached consumer here: naming a second drops the first, and cancels its
    fetch. The request waiting on that fetch gets the configured domains, not a CancelledError."""
    release = anyio.Event()
    server = ConsumerAccess(Access.of(parse_function_config(None)), Connections([ACCOUNTING], release))
    callers = CallerAccess(server, max_consumers=4)  # a quarter each: one consumer
    got: list[Access] = []

    async def first() -> None:
        got.append(await callers.resolve(Caller(Grant(), "a")))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            while "/consumers/a/connections" not in server.upstream.paths:  # type: ignore[union-attr]
                await anyio.sleep(0)
            assert not got
            release.set()  # a's fetch is cancelled before it can run again
            second = await callers.resolve(Caller(Grant(), "b"))
    assert got and got[0].consumer_id == "a" and got[0].active_domains is None
    assert second.consumer_id == "b" and second.active_domains == {"accounting"}
    await callers.aclose()


class CachedConsumers:
    """/consumers as Chift serves it (docs "Caching in Chift API"): a GET answer is kept 5 minutes
    (this test never gets there), unless asked with ``x-chift-force-refresh: true``. (The sandbox does
    not cache platform routes, so it cannot show this.)"""

    def __init__(self) -> None:
        self.consumers = ["c1"]
        self.cached: list[dict[str, str]] | None = None

    async def request(self, method: str, path: str, *, headers: Any = None, **kw: Any) -> Any:
        assert (method, path) == ("GET", "/consumers")
        fresh = (headers or {}).get("x-chift-force-refresh") == "true"
        if self.cached is None or fresh:
            self.cached = [{"consumerid": c} for c in self.consumers]
        return self.cached


async def test_a_consumer_created_a_minute_ago_is_known_at_the_next_list_past_chifts_cache() -> None:
    clock = ManualClock()
    upstream = CachedConsumers()
    account = AccountConsumers(upstream, refresh=30, clock=clock)
    assert await account.has("c1")
    upstream.consumers.append("c2")  # created after the list was read (and cached by Chift)
    clock.advance(30)
    assert await account.has("c2")
    assert account.fetches == 2
