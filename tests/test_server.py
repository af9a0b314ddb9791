"""The MCP server through the protocol, in process: an SDK client session in memory to the server
over the in-process sandbox Chift API. Tools listed per scope, calls, faults retried or reported,
validation before any request, prompts, and list_changed when the bound consumer's connections
change. (The real ``chift-mcp`` process over stdio: test_stdio_integration.py.)"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from support import ACCOUNTING_ONLY, DEMO, POS_INTEGRATION, TIMEOUT, payload
from support.inproc import ManualClock, Session, mcp_session

from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio
ADDRESS = {
    "address_type": "main",
    "street": "Rue Haute 1",
    "city": "Brussels",
    "postal_code": "1000",
    "country": "BE",
}


async def test_lists_tools_with_consumer_id_when_unbound(mcp: Session) -> None:
    tools = (await mcp.client.list_tools()).tools
    names = {t.name for t in tools}
    assert {
        "accounting_get_clients",
        "pos_get_orders",
        "consumers_get_consumers",
        "connections_get_connections",
    } <= names
    assert not any(n.startswith(("syncs_", "webhooks_", "datastores_")) for n in names)
    clients = next(t for t in tools if t.name == "accounting_get_clients")
    assert "consumer_id" in clients.input_schema["properties"]
    assert clients.annotations is not None and clients.annotations.read_only_hint is True


async def test_bound_consumer_hides_consumer_id_and_keeps_its_active_domains() -> None:
    with anyio.fail_after(TIMEOUT):
        async with mcp_session(consumer_id=ACCOUNTING_ONLY) as s:
            tools = (await s.client.list_tools()).tools
            result = await s.client.call_tool("accounting_get_clients", {"limit": 3})
            refused = await s.client.call_tool("pos_get_orders", {})
            sent = s.requests("/accounting/clients")
    domains = {t.name.split("_")[0] for t in tools}
    assert "accounting" in domains and not domains & {
        "pos",
        "ecommerce",
        "invoicing",
        "pms",
        "payment",
        "banking",
    }
    assert all("consumer_id" not in t.input_schema.get("properties", {}) for t in tools)
    assert "consumers_get_consumers" not in {t.name for t in tools}
    assert not result.is_error and len(payload(result)["items"]) == 3
    assert [r["consumer_id"] for r in sent] == [ACCOUNTING_ONLY]  # the bound consumer, injected
    assert refused.is_error and "no active pos connection" in payload(refused)["message"]


async def test_calls_read_and_create_then_read_back(mcp: Session) -> None:
    listed = await mcp.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 120})
    created = await mcp.client.call_tool(
        "accounting_create_client", {"consumer_id": DEMO, "name": "ACME SA", "addresses": [ADDRESS]}
    )
    client_id = payload(created)["id"]
    fetched = await mcp.client.call_tool(
        "accounting_get_client", {"consumer_id": DEMO, "client_id": client_id}
    )
    data = payload(listed)
    assert not listed.is_error
    # The sandbox's 120 first clients are longer than the result cap: the answer is cut at an item
    # boundary and says where to go on.
    assert data["truncated"] is True and data["total"] >= 120
    assert data["next_offset"] == len(data["items"]) and 0 < len(data["items"]) < 120
    assert len(listed.content[0].text) <= Settings().max_result_chars
    assert listed.structured_content == data
    assert not created.is_error, created.content[0].text
    assert not fetched.is_error and payload(fetched)["name"] == "ACME SA"
    assert payload(fetched)["id"] == client_id


@pytest.mark.parametrize(
    ("fault", "sent", "error", "retryable"),
    [
        ({"kind": "status", "status": 429, "retry_after": 1, "times": 1}, 2, None, None),
        ({"kind": "status", "status": 503, "times": 2}, 3, None, None),
        ({"kind": "status", "status": 504, "error_code": "ERROR_GATEWAY_TIMEOUT", "times": 1}, 2, None, None),
        # Chift's table: the local agent unreachable is configuration, not retried
        ({"kind": "status", "status": 502, "times": 1}, 1, "ERROR_CONFIGURATION_LOCALAGENT", False),
        ({"kind": "latency", "latency": 0.3, "times": 1}, 1, None, None),
        # a bare 500 (not Chift's: its internal errors are 400) and Chift's own internal error
        ({"kind": "status", "status": 500, "times": 1}, 1, "HTTP_500", True),
        (
            {"kind": "status", "error_code": "ERROR_INTERNAL_ERROR", "times": 1},
            1,
            "ERROR_INTERNAL_ERROR",
            False,
        ),
        ({"kind": "malformed_json", "times": 1}, 1, "INVALID_UPSTREAM_RESPONSE", True),
    ],
)
async def test_faults_are_retried_or_reported_without_crashing(
    fault: dict[str, Any], sent: int, error: str | None, retryable: bool | None
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with mcp_session() as s:
            s.sandbox.faults.add(match="accounting_get_clients", **fault)
            result = await s.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 5})
            first = s.requests("/accounting/clients")
            after = await s.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 5})
            applied = s.sandbox.faults.applied
    assert applied == fault["times"]  # the fault did hit
    assert len(first) == sent  # retried (same request) or not
    assert result.is_error is (error is not None), result.content[0].text
    if error is not None:
        body = payload(result)
        assert body["error"] == error and body["message"] and body["retryable"] is retryable
    else:
        assert len(payload(result)["items"]) == 5
    assert not after.is_error  # the server is still healthy


async def test_token_revocation_is_recovered_with_one_refresh(mcp: Session) -> None:
    first = await mcp.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    before = mcp.sandbox.stats()
    mcp.sandbox.revoke_tokens()
    second = await mcp.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    after = mcp.sandbox.stats()
    assert not first.is_error and not second.is_error
    assert after["tokens_issued"] == before["tokens_issued"] + 1
    assert [r["status"] for r in mcp.requests("/accounting/clients")] == [200, 401, 200]


async def test_slow_upstream_times_out_with_a_clear_error() -> None:
    """The client's timeout fires on a real socket: the sandbox is served on loopback here."""
    with anyio.fail_after(TIMEOUT):
        async with mcp_session(loopback=True, timeout=0.5, max_retries=1, retry_budget=1) as s:
            s.sandbox.faults.add(match="accounting_get_clients", kind="latency", latency=3, times=0)
            result = await s.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
            url = s.url
    error = payload(result)
    assert result.is_error and error["error"] == "CHIFT_UNREACHABLE" and "timed out" in error["message"]
    assert url.startswith("http://127.0.0.1:") and url in error["message"] and error["retryable"] is True


async def test_a_create_whose_answer_is_lost_is_never_booked_twice(mcp: Session) -> None:
    mcp.sandbox.faults.add(
        match="accounting_create_client", kind="drop_after_processing", status=503, times=1
    )
    result = await mcp.client.call_tool(
        "accounting_create_client", {"consumer_id": DEMO, "name": "Once Only BV", "addresses": [ADDRESS]}
    )
    posts = [
        r
        for r in mcp.requests()
        if r["method"] == "POST" and r.get("operation_id") == "accounting_create_client"
    ]
    assert len(posts) == 2 and len({r["client_request_id"] for r in posts}) == 1  # one retry, same id
    assert sum(1 for r in posts if r.get("processed")) == 1
    error = payload(result)
    assert result.is_error and error["error"] == "REQUEST_ALREADY_PROCESSED"
    assert "not resend" in error["hint"].lower() or "do not" in error["hint"].lower()


async def test_bad_arguments_are_refused_before_any_request(mcp: Session) -> None:
    result = await mcp.client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": "many"})
    assert result.is_error and payload(result)["field"] == "limit"
    assert payload(result)["error"] == "INVALID_ARGUMENTS"
    assert mcp.requests("/accounting/") == []


async def test_prompt_walks_through_choosing_a_consumer(mcp: Session) -> None:
    prompts = (await mcp.client.list_prompts()).prompts
    prompt = await mcp.client.get_prompt("choose_consumer", {"consumer": "Demo"})
    assert [p.name for p in prompts] == ["choose_consumer", "reconcile_invoices", "month_end_check"]
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "consumers_get_consumers" in text and "connections_get_connections" in text


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_a_new_connection_of_the_bound_consumer_is_announced_as_a_tool_list_change(era: str) -> None:
    import mcp_types as types

    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    clock = ManualClock()
    with anyio.fail_after(TIMEOUT):
        async with mcp_session(
            mode=era, message_handler=on_message, clock=clock, consumer_id=ACCOUNTING_ONLY, connections_ttl=60
        ) as s:
            client = s.client
            before = {t.name for t in (await client.list_tools()).tools}
            assert not any(n.startswith("pos_") for n in before)
            await s.connect(ACCOUNTING_ONLY, POS_INTEGRATION, "Lightspeed (shop)")
            unchanged = {t.name for t in (await client.list_tools()).tools}  # within the TTL: cached
            clock.advance(61)  # past the TTL: the next request refreshes in the background
            if era == "legacy":
                caps = client.session.initialize_result.capabilities  # type: ignore[union-attr]
                assert caps.tools is not None and caps.tools.list_changed is True
                await client.call_tool("accounting_get_clients", {"limit": 1})
                await changed.wait()
            else:
                async with client.listen(tools_list_changed=True) as subscription:
                    await client.call_tool("accounting_get_clients", {"limit": 1})
                    async for event in subscription:
                        assert type(event).__name__ == "ToolsListChanged"
                        break
            after = {t.name for t in (await client.list_tools()).tools}
    assert unchanged == before
    assert "pos_get_orders" in after and before < after
