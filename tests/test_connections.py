"""A bound consumer's scope: fetched once in the background, cached with a TTL, failures fall back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from chift_mcp.connections import ScopeProvider, active_domains
from chift_mcp.errors import UnreachableError
from chift_mcp.toolset import Scope, parse_function_config

pytestmark = pytest.mark.anyio
BASE = Scope.of(parse_function_config(None), consumer_id="c1")


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
    provider = ScopeProvider(BASE, upstream, ttl=300)
    first = await provider.current()
    for _ in range(5):
        assert await provider.current() is first
    assert first.active_domains == frozenset({"accounting"}) and upstream.calls == 1


async def test_stale_scope_is_served_while_a_background_refresh_runs() -> None:
    import anyio

    upstream = Connections(
        [[{"api": "Accounting", "status": "active"}], [{"api": "Invoicing", "status": "active"}]]
    )
    provider = ScopeProvider(BASE, upstream, ttl=0)
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
    provider = ScopeProvider(BASE, upstream, ttl=300)
    with caplog.at_level(logging.WARNING, logger="chift_mcp.connections"):
        scope = await provider.current()
    assert scope == BASE and scope.active_domains is None
    assert (
        "could not fetch the connections of consumer c1" in caplog.text
        and "configured domains" in caplog.text
    )


async def test_unbound_servers_never_fetch() -> None:
    upstream = Connections([])
    unbound = Scope.of(parse_function_config(None))
    assert await ScopeProvider(unbound, upstream).current() is unbound and upstream.calls == 0


async def test_a_malformed_answer_never_wedges_the_server() -> None:
    upstream = Connections([{"items": None}, ValueError("boom")])
    provider = ScopeProvider(BASE, upstream, ttl=0)
    assert (await provider.current()).active_domains == frozenset()
    for _ in range(3):
        scope = await provider.current()  # a refresh that raises a non-ToolError: still served
        assert scope.consumer_id == "c1"


async def test_only_the_first_request_waits_for_a_slow_fetch() -> None:
    import anyio

    class Slow:
        async def request(self, *args: Any, **kw: Any) -> Any:
            await anyio.sleep(10)

    provider = ScopeProvider(BASE, Slow(), first_wait=0.2)
    with anyio.fail_after(1):
        assert await provider.current() == BASE
        for _ in range(3):
            assert await provider.current() == BASE  # no second wait
    await provider.aclose()
