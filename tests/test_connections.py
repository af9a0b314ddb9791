"""A bound consumer's scope: fetched once in the background, cached with a TTL, failures fall back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from chift_mcp.access import Access, ConsumerAccess, active_domains, parse_function_config
from chift_mcp.errors import UnreachableError

pytestmark = pytest.mark.anyio
BASE = Access.of(parse_function_config(None), consumer_id="c1")


class Connections:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    async def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> Any:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        assert path == "/consumers/c1/connections"
        return answer


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


async def test_fetched_once_then_served_from_cache() -> None:
    upstream = Connections([[{"api": "Accounting", "status": "active"}]])
    provider = ConsumerAccess(BASE, upstream, ttl=300)
    first = await provider.current()
    for _ in range(5):
        assert await provider.current() is first
    assert first.active_domains == frozenset({"accounting"}) and upstream.calls == 1


async def test_stale_scope_is_served_while_a_background_refresh_runs() -> None:
    import anyio

    upstream = Connections(
        [[{"api": "Accounting", "status": "active"}], [{"api": "Invoicing", "status": "active"}]]
    )
    provider = ConsumerAccess(BASE, upstream, ttl=0)
    first = await provider.current()
    stale = await provider.current()  # TTL passed: the old scope now, a refresh in the background
    assert stale.active_domains == frozenset({"accounting"})
    with anyio.fail_after(5):
        while (await provider.current()).active_domains != frozenset({"invoicing"}):
            await anyio.sleep(0)
    assert first.active_domains == frozenset({"accounting"}) and upstream.calls >= 2


async def test_a_failed_fetch_is_logged_and_falls_back_to_the_configured_domains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream = Connections([UnreachableError("Could not reach the Chift API at https://api.chift.eu")])
    provider = ConsumerAccess(BASE, upstream, ttl=300)
    with caplog.at_level(logging.WARNING, logger="chift_mcp.connections"):
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
    upstream = Connections([{"items": None}, ValueError("boom")])
    provider = ConsumerAccess(BASE, upstream, ttl=0)
    assert (await provider.current()).active_domains == frozenset()
    for _ in range(3):
        scope = await provider.current()  # a refresh that raises a non-ToolError: still served
        assert scope.consumer_id == "c1"


async def test_only_the_first_request_waits_for_a_slow_fetch() -> None:
    import anyio

    class Slow:
        async def request(self, *args: Any, **kw: Any) -> Any:
            await anyio.sleep(10)

    provider = ConsumerAccess(BASE, Slow(), first_wait=0.2)
    with anyio.fail_after(1):
        assert await provider.current() == BASE
    with anyio.fail_after(0.1):
        for _ in range(5):
            assert await provider.current() == BASE  # no second wait
    await provider.aclose()


async def test_a_refresh_that_changes_the_domains_is_announced_once() -> None:
    import anyio

    upstream = Connections(
        [
            [{"api": "Accounting", "status": "active"}],
            [{"api": "Accounting", "status": "active"}],  # same domains: nothing to announce
            [{"api": "Accounting", "status": "active"}, {"api": "Point of Sale", "status": "active"}],
        ]
    )
    provider = ConsumerAccess(BASE, upstream, ttl=0)
    heard: list[frozenset[str] | None] = []

    async def listener(consumer: str | None) -> None:
        heard.append((await provider.current()).active_domains)

    provider.on_change(listener)
    await provider.current()  # the first fetch: nobody listed anything before it, no announcement
    with anyio.fail_after(5):
        while upstream.calls < 3 or not heard:
            await provider.current()
            await anyio.sleep(0.01)
    assert heard == [frozenset({"accounting", "pos"})]


async def test_the_first_fetch_is_announced_when_the_configured_domains_were_served_meanwhile() -> None:
    import anyio

    class Late:
        calls = 0

        async def request(self, *args: Any, **kw: Any) -> Any:
            await anyio.sleep(0.3)
            return [{"api": "Accounting", "status": "active"}]

    provider = ConsumerAccess(BASE, Late(), first_wait=0.05)
    heard = anyio.Event()

    async def listener(consumer: str | None) -> None:
        heard.set()

    async def broken(consumer: str | None) -> None:
        raise RuntimeError("a client that went away")

    provider.on_change(broken)  # must not keep the others from hearing of it
    provider.on_change(listener)
    assert await provider.current() == BASE  # served the configured domains
    with anyio.fail_after(5):
        await heard.wait()
    assert (await provider.current()).active_domains == frozenset({"accounting"})


async def test_a_provider_for_another_consumer_announces_to_the_same_listeners() -> None:
    import anyio

    class Changing:
        def __init__(self) -> None:
            self.calls = 0

        async def request(self, method: str, path: str, **kw: Any) -> Any:
            self.calls += 1
            assert path == "/consumers/c2/connections"
            return [{"api": "Accounting" if self.calls == 1 else "Invoicing", "status": "active"}]

    provider = ConsumerAccess(Access.of(parse_function_config(None)), Changing(), ttl=0)  # unbound
    heard = anyio.Event()

    async def listener(consumer: str | None) -> None:
        heard.set()

    other = provider.for_consumer("c2")
    provider.on_change(listener)  # registered after the other provider was made: still shared
    assert (await other.current()).consumer_id == "c2"
    with anyio.fail_after(5):
        while not heard.is_set():
            await other.current()
            await anyio.sleep(0.01)
