"""Chift's contract end to end, one test per rule: an MCP client session (in memory) to the server,
whose Chift client talks to the in-process sandbox, which follows Chift's documented behaviour
(docs/chift-contract.md). Each test checks what the agent reads and what reached the sandbox."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from support import DEMO, TIMEOUT, payload
from support.inproc import Session, mcp_session

from chift_mcp.app import SANDBOX_URL
from chift_mcp.sandbox.config import MULTI_FOLDER_CONSUMER_ID, TWO_CONNECTIONS_CONSUMER_ID
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

pytestmark = pytest.mark.anyio
ADDRESS = {
    "address_type": "main",
    "street": "Rue Neuve 1",
    "city": "Brussels",
    "postal_code": "1000",
    "country": "BE",
}


async def call(s: Session, name: str, args: dict[str, Any]) -> tuple[bool, Any]:
    with anyio.fail_after(TIMEOUT):
        result = await s.client.call_tool(name, args)
    return bool(result.is_error), payload(result)


async def client_names(s: Session, consumer: str, **extra: Any) -> list[str]:
    """The names of the last clients of the list (created ones come last)."""
    failed, body = await call(s, "accounting_get_clients", {"consumer_id": consumer, "limit": 1, **extra})
    assert not failed, body
    offset = max(0, body["total"] - 20)
    args = {"consumer_id": consumer, "limit": 20, "offset": offset, **extra}
    failed, body = await call(s, "accounting_get_clients", args)
    assert not failed, body
    return [c.get("name") for c in body["items"]]


async def create_client(s: Session, consumer: str, name: str, **extra: Any) -> Any:
    args = {"consumer_id": consumer, "name": name, "is_company": True, "addresses": [ADDRESS], **extra}
    failed, body = await call(s, "accounting_create_client", args)
    assert not failed, body
    return body


# ------------------------------------------------------------------ the GET cache


async def test_a_plain_list_after_a_create_is_stale_and_fresh_with_the_header() -> None:
    """The sandbox's cache, as Chift's: the docs' own workflow (get, create, get with the header)."""
    async with mcp_session() as s:
        transport = httpx2.ASGITransport(app=s.sandbox_app)
        async with httpx2.AsyncClient(transport=transport, base_url=SANDBOX_URL) as http:
            token = (
                await http.post(
                    "/token",
                    json={
                        "clientId": SANDBOX_CLIENT_ID,
                        "clientSecret": SANDBOX_CLIENT_SECRET,
                        "accountId": SANDBOX_ACCOUNT_ID,
                    },
                )
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            path = f"/consumers/{DEMO}/accounting/clients"

            async def total(**headers: str) -> int:
                answer = await http.get(path, params={"page": 1, "size": 1}, headers={**auth, **headers})
                return int(answer.raise_for_status().json()["total"])

            before = await total()
            body = {"name": "Cache Probe SA", "is_company": True, "addresses": [ADDRESS]}
            (await http.post(path, json=body, headers=auth)).raise_for_status()
            assert await total() == before  # cached: the create is not counted yet
            assert await total(**{"X-Chift-Force-Refresh": "true"}) == before + 1


async def test_an_agent_reads_back_what_it_wrote() -> None:
    async with mcp_session() as s:
        assert "Read Back SA" not in await client_names(s, DEMO)  # the list is now cached
        await create_client(s, DEMO, "Read Back SA")
        assert "Read Back SA" in await client_names(s, DEMO)  # the server forced a refresh


async def test_without_the_server_rule_the_same_read_is_stale() -> None:
    """The control: with the window at 0 the server never forces a refresh, and the sandbox's cache
    hides the create, so the test above passes because the server is right."""
    async with mcp_session(cache_window=0) as s:
        await client_names(s, DEMO)
        await create_client(s, DEMO, "Stale SA")
        assert "Stale SA" not in await client_names(s, DEMO)


# ------------------------------------------------------------------ several connections


async def test_two_connections_without_a_choice_list_them() -> None:
    async with mcp_session() as s:
        failed, body = await call(s, "accounting_get_clients", {"consumer_id": TWO_CONNECTIONS_CONSUMER_ID})
        assert failed and body["error"] == "ERROR_CONFIGURATION_CONNECTION", body
        failed, connections = await call(
            s, "connections_get_connections", {"consumer_id": TWO_CONNECTIONS_CONSUMER_ID}
        )
        accounting = [c for c in connections["items"] if c["api"] == "Accounting"]
        assert len(accounting) == 2
        for connection in accounting:
            assert connection["connectionid"] in body["hint"]
        assert "connection_id" in body["hint"]


async def test_two_connections_with_a_choice_reach_the_chosen_one() -> None:
    async with mcp_session() as s:
        _, connections = await call(
            s, "connections_get_connections", {"consumer_id": TWO_CONNECTIONS_CONSUMER_ID}
        )
        chosen = [c["connectionid"] for c in connections["items"] if c["api"] == "Accounting"][1]
        failed, body = await call(
            s, "accounting_get_clients", {"consumer_id": TWO_CONNECTIONS_CONSUMER_ID, "connection_id": chosen}
        )
        assert not failed, body
        assert s.requests("/accounting/clients")[-1]["connection_id"] == chosen


async def test_a_bound_consumer_with_two_connections_sees_connection_id_where_it_matters() -> None:
    async with mcp_session(consumer_id=TWO_CONNECTIONS_CONSUMER_ID) as s:
        await s.runtime.access.refreshed()
        tools = {t.name: t for t in (await s.client.list_tools()).tools}
        assert "connection_id" in tools["accounting_get_clients"].input_schema["properties"]
        assert "connection_id" not in tools["invoicing_get_invoices"].input_schema["properties"]
        failed, body = await call(s, "invoicing_get_invoices", {"limit": 1})  # one invoicing connection
        assert not failed, body


# ------------------------------------------------------------------ folders


async def test_a_multi_folder_connection_asks_for_folder_id_and_says_where_to_find_it() -> None:
    async with mcp_session() as s:
        failed, body = await call(s, "accounting_get_clients", {"consumer_id": MULTI_FOLDER_CONSUMER_ID})
        assert failed and "accounting_get_folders" in body["hint"] and "folder_id" in body["hint"], body
        _, folders = await call(s, "accounting_get_folders", {"consumer_id": MULTI_FOLDER_CONSUMER_ID})
        items = folders["items"] if isinstance(folders, dict) else folders
        selected = [f["id"] for f in items if f.get("selected", True)]
        unselected = [f["id"] for f in items if not f.get("selected", True)]
        failed, body = await call(
            s, "accounting_get_clients", {"consumer_id": MULTI_FOLDER_CONSUMER_ID, "folder_id": selected[0]}
        )
        assert not failed, body
        failed, body = await call(
            s, "accounting_get_clients", {"consumer_id": MULTI_FOLDER_CONSUMER_ID, "folder_id": unselected[0]}
        )
        assert (
            failed and body["error"] == "ERROR_FOLDER_NOT_FOUND" and "accounting_get_folders" in body["hint"]
        )


# ------------------------------------------------------------------ errors and rate limits


@pytest.mark.parametrize(
    ("fault", "sent", "code", "retryable", "words"),
    [
        (
            {"error_code": "ERROR_CONFIGURATION_LOCALAGENT"},
            1,
            "ERROR_CONFIGURATION_LOCALAGENT",
            False,
            "local agent",
        ),
        ({"error_code": "ERROR_BACKEND_NOT_FOUND"}, 1, "ERROR_BACKEND_NOT_FOUND", False, "URL or host"),
        (
            {"error_code": "ERROR_GATEWAY_TIMEOUT", "times": 4},
            4,
            "ERROR_GATEWAY_TIMEOUT",
            True,
            "local agent",
        ),
        (
            {"error_code": "ERROR_CONNECTOR_MAINTENANCE", "times": 4},
            4,
            "ERROR_CONNECTOR_MAINTENANCE",
            True,
            "retry",
        ),
        (
            {"error_code": "ERROR_INTERNAL_ERROR"},
            1,
            "ERROR_INTERNAL_ERROR",
            False,
            "not caused by the arguments",
        ),
        ({"error_code": "ERROR_UNEXPECTED"}, 1, "ERROR_UNEXPECTED", False, "not the arguments"),
        (
            {"error_code": "ERROR_TECHNICAL_MAPPING"},
            1,
            "ERROR_TECHNICAL_MAPPING",
            False,
            "arguments are not the cause",
        ),
        ({"error_code": "ERROR_UNKNOWN"}, 1, "ERROR_UNKNOWN", False, "not the arguments"),
        (
            {"error_code": "ERROR_CONNECTOR_CONFIGURATION"},
            1,
            "ERROR_CONNECTOR_CONFIGURATION",
            False,
            "not the",
        ),
        ({"kind": "rate_limit", "window": "short"}, 1, "ERROR_RATE_LIMIT", True, "already retried"),
        ({"kind": "rate_limit", "window": "short", "refusals": 2}, 1, None, None, ""),  # Chift's retries win
    ],
)
async def test_each_error_class_is_retried_or_not_with_its_hint(
    fault: dict[str, Any], sent: int, code: str | None, retryable: bool | None, words: str
) -> None:
    async with mcp_session() as s:
        s.sandbox.config.backoff_scale = 0.001
        s.sandbox.faults.add(match="accounting_get_clients", **{"times": 1, **fault})
        failed, body = await call(s, "accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
        assert len(s.requests("/accounting/clients")) == sent
        if code is None:
            assert not failed, body
            return
        assert failed and body["error"] == code and body["retryable"] is retryable, body
        assert words in body["hint"] and "fix the arguments" not in body["hint"].lower()


async def test_a_daily_limit_is_not_retried_and_gives_the_reset_time() -> None:
    async with mcp_session() as s:
        s.sandbox.faults.add(
            match="accounting_get_clients", kind="rate_limit", window="daily", reset_in=12000
        )
        failed, body = await call(s, "accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
        assert failed and body["error"] == "ERROR_RATE_LIMIT" and body["retryable"] is False, body
        assert "resets in about 3 h 20 min" in body["hint"] and "wait 60 s" not in body["hint"]
        assert len(s.requests("/accounting/clients")) == 1


# ------------------------------------------------------------------ lost writes


async def test_a_lost_create_points_at_the_transactions_lookup_which_finds_it() -> None:
    async with mcp_session() as s:
        # processed, then a bare 500 from in front of Chift: the answer is lost
        s.sandbox.faults.add(match="accounting_create_client", kind="drop_after_processing", status=500)
        args = {"consumer_id": DEMO, "name": "Lost SA", "is_company": True, "addresses": [ADDRESS]}
        failed, body = await call(s, "accounting_create_client", args)
        assert failed, body
        hint, rid = body["hint"], body["client_request_id"]
        assert "connections_get_transactions" in hint and hint.index(
            "connections_get_transactions"
        ) < hint.index("list the resource")
        _, connections = await call(s, "connections_get_connections", {"consumer_id": DEMO})
        accounting = next(c["connectionid"] for c in connections["items"] if c["api"] == "Accounting")
        failed, found = await call(
            s,
            "connections_get_transactions",
            {"consumer_id": DEMO, "connection_id": accounting, "client_request_id": rid},
        )
        assert not failed and found["created_entity_id"], found
        assert "Lost SA" in await client_names(s, DEMO)  # and the read after it is fresh
