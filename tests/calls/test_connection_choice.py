"""Choosing a connection when a consumer has several on one API: ``connection_id``, listed only where
the view knows it matters, sent as Chift's ``X-Chift-Connectionid``; and Chift's "The connection is
not correctly configured" answered with the consumer's connections to choose from.
Source: docs.chift.eu developer-guides/implementation/connections, developer-guides/errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from chift_mcp.calls.registry import Registry
from chift_mcp.errors import ChiftAPIError, UnreachableError
from chift_mcp.tools.access import Access, parse_function_config
from chift_mcp.tools.access.live import shared_domains
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.inventory import Inventory

pytestmark = pytest.mark.anyio
CONSUMER = "11111111-1111-4111-8111-111111111111"
CONNECTIONS = [
    {
        "connectionid": "c-odoo",
        "name": "Odoo BE",
        "integration": "Odoo",
        "api": "Accounting",
        "status": "active",
    },
    {
        "connectionid": "c-exact",
        "name": "Exact NL",
        "integration": "Exact Online",
        "api": "Accounting",
        "status": "active",
    },
    {
        "connectionid": "c-old",
        "name": "Yuki",
        "integration": "Yuki",
        "api": "Accounting",
        "status": "inactive",
    },
    {
        "connectionid": "c-pos",
        "name": "Lightspeed",
        "integration": "Lightspeed",
        "api": "Point of Sale",
        "status": "active",
    },
]
ADDRESS = {
    "address_type": "main",
    "street": "Rue Neuve",
    "city": "Brussels",
    "postal_code": "1000",
    "country": "BE",
}
SEVERAL = ChiftAPIError(
    400,
    "The connection is not correctly configured",
    error_code="ERROR_CONFIGURATION_CONNECTION",
    hint="call again with connection_id",
)


class Upstream:
    """Like Chift for a consumer with two active accounting connections: a call without a choice is
    refused; ``/connections`` lists them."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Any:
        self.requests.append((method, path, dict(headers or {})))
        if path.endswith("/connections"):
            return CONNECTIONS
        if self.fail is not None:
            raise self.fail
        if "X-Chift-Connectionid" not in (headers or {}):
            raise ChiftAPIError(
                SEVERAL.status, SEVERAL.message, error_code=SEVERAL.error_code, hint=SEVERAL.hint
            )
        return {"items": [], "total": 0, "page": 1, "size": 50}


def test_only_apis_served_by_several_active_connections_are_shared() -> None:
    assert shared_domains(CONNECTIONS) == {"accounting"}


def test_the_argument_is_listed_only_where_the_bound_consumer_has_several_connections(
    tools: list[ToolSpec],
) -> None:
    inventory = Inventory(tools)
    base = Access.of(
        parse_function_config(None), consumer_id=CONSUMER, active_domains=frozenset({"accounting", "pos"})
    )
    plain = {t.name: t for t in inventory.view(base).tools}
    shared = {
        t.name: t for t in inventory.view(replace(base, shared_domains=frozenset({"accounting"}))).tools
    }
    clients = shared["accounting_get_clients"].input_schema
    assert "connection_id" in clients["properties"] and "connection_id" in clients["required"]
    assert "connection_id" not in plain["accounting_get_clients"].input_schema["properties"]
    assert "connection_id" not in shared["pos_get_orders"].input_schema["properties"]
    assert "consumer_id" not in clients["properties"]  # bound: still hidden


async def test_without_a_choice_the_error_lists_the_active_connections_of_that_api(
    tools: list[ToolSpec],
) -> None:
    up = Upstream()
    access = Access.of(parse_function_config(None))
    result = await Registry(Inventory(tools), up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER}, access
    )
    assert result.is_error
    payload = result.structured or {}
    assert payload["error"] == "ERROR_CONFIGURATION_CONNECTION" and payload["retryable"] is False
    hint = payload["hint"]
    assert "c-odoo (Odoo BE, Odoo)" in hint and "c-exact (Exact NL, Exact Online)" in hint
    assert "c-old" not in hint and "c-pos" not in hint  # inactive, another API
    assert "connection_id" in hint and "accounting_get_clients" in hint


async def test_with_a_choice_the_header_is_sent_even_where_it_was_not_listed(tools: list[ToolSpec]) -> None:
    up = Upstream()
    access = Access.of(parse_function_config(None))
    result = await Registry(Inventory(tools), up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "connection_id": "c-exact"}, access
    )
    assert not result.is_error, result.text
    assert up.requests[-1][2] == {"X-Chift-Connectionid": "c-exact"}


async def test_a_bound_caller_passes_the_listed_argument(tools: list[ToolSpec]) -> None:
    up = Upstream()
    access = Access.of(
        parse_function_config(None),
        consumer_id=CONSUMER,
        active_domains=frozenset({"accounting"}),
        shared_domains={"accounting"},
    )
    registry = Registry(Inventory(tools), up)
    missing = await registry.call("accounting_get_clients", {}, access)
    assert missing.is_error and (missing.structured or {}).get("field") == "connection_id"
    assert not up.requests  # refused before anything was sent
    result = await registry.call("accounting_get_clients", {"connection_id": "c-odoo"}, access)
    assert not result.is_error
    assert up.requests[-1][2] == {"X-Chift-Connectionid": "c-odoo"}


async def test_account_tools_take_no_connection(tools: list[ToolSpec]) -> None:
    result = await Registry(Inventory(tools), Upstream()).call(
        "consumers_get_consumers", {"connection_id": "c-odoo"}, Access.of(parse_function_config(None))
    )
    assert result.is_error and (result.structured or {}).get("field") == "connection_id"


async def test_a_lost_writes_lookup_names_the_chosen_connection(tools: list[ToolSpec]) -> None:
    lost = UnreachableError(
        "no answer",
        hint="check GET /consumers/x/connections/{connection_id}/transactions?client_request_id=r",
        request_id="r",
    )
    up = Upstream(fail=lost)
    result = await Registry(Inventory(tools), up).call(
        "accounting_create_client",
        {"consumer_id": CONSUMER, "connection_id": "c-odoo", "name": "A", "addresses": [ADDRESS]},
        Access.of(parse_function_config(None)),
    )
    assert "/connections/c-odoo/transactions" in (result.structured or {})["hint"], result.text


async def test_each_caller_is_checked_against_the_schema_it_was_shown(tools: list[ToolSpec]) -> None:
    """The same tool shown with and without ``connection_id`` (two bound consumers, one with two
    accounting connections, one with one): neither caller's check is the other's."""

    class Answers(Upstream):
        async def request(
            self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
        ) -> Any:
            self.requests.append((method, path, dict(headers or {})))
            return {"items": [], "total": 0, "page": 1, "size": 50}

    registry = Registry(Inventory(tools), Answers())
    config = parse_function_config(None)
    domains = frozenset({"accounting"})
    two = Access.of(config, consumer_id=CONSUMER, active_domains=domains, shared_domains={"accounting"})
    one = Access.of(config, consumer_id="22222222-2222-4222-8222-222222222222", active_domains=domains)
    chose = await registry.call("accounting_get_clients", {"connection_id": "c-odoo"}, two)
    assert not chose.is_error, chose.text
    plain = await registry.call("accounting_get_clients", {}, one)
    assert not plain.is_error, plain.text
    missing = await registry.call("accounting_get_clients", {}, two)  # and the other way round
    assert missing.is_error and (missing.structured or {}).get("field") == "connection_id"


async def test_with_one_active_connection_the_error_does_not_ask_to_choose(tools: list[ToolSpec]) -> None:
    """Chift's "not correctly configured" where the consumer has one active connection on that API:
    the choice is not the problem, so the hint does not list one connection to choose from."""

    class OneAccounting(Upstream):
        async def request(
            self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
        ) -> Any:
            if path.endswith("/connections"):
                self.requests.append((method, path, dict(headers or {})))
                return [c for c in CONNECTIONS if c["connectionid"] != "c-exact"]
            return await super().request(method, path, headers=headers, **kw)

    result = await Registry(Inventory(tools), OneAccounting(fail=SEVERAL)).call(
        "accounting_get_clients", {"consumer_id": CONSUMER}, Access.of(parse_function_config(None))
    )
    payload = result.structured or {}
    assert payload["error"] == "ERROR_CONFIGURATION_CONNECTION" and payload["retryable"] is False
    hint = payload["hint"]
    assert "cannot tell which" not in hint and "1 active" not in hint and "one of:" not in hint
    assert "c-odoo" in hint and "configuration" in hint
