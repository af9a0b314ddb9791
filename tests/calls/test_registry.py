"""Registry: scope checks, argument validation before any request, paging, shaping and errors.

The upstream here is a small in-memory object recording requests; the same through an MCP session
against the sandbox Chift API lives in test_server.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest
from support import INVOICE_LINE

from chift_mcp.calls.registry import Registry
from chift_mcp.calls.shaping import prune
from chift_mcp.errors import ChiftAPIError
from chift_mcp.tools.access import Access, parse_function_config
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.inventory import Inventory

pytestmark = pytest.mark.anyio
CONSUMER = "11111111-1111-4111-8111-111111111111"


ADDRESS = {
    "address_type": "main",
    "street": "Rue Haute 1",
    "city": "Brussels",
    "postal_code": "1000",
    "country": "BE",
}

class FakeUpstream:
    """Answers list endpoints with ``total`` numbered items; records every request."""

    def __init__(self, total: int = 0, error: Exception | None = None) -> None:
        self.total = total
        self.error = error
        self.requests: list[dict[str, Any]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        writes: bool | None = None,
    ) -> Any:
        self.requests.append(
            {
                "method": method,
                "path": path,
                "params": dict(params or {}),
                "json": json,
                "request_id": request_id,
                "headers": headers,
            }
        )
        if self.error:
            raise self.error
        if params and "page" in params:
            page, size = params["page"], params["size"]
            start = (page - 1) * size
            items = [
                {"id": str(i), "name": f"item {i}", "empty": None, "tags": []}
                for i in range(start, min(start + size, self.total))
            ]
            return {"items": items, "total": self.total, "page": page, "size": size}
        return {"id": "new", "echo": json, "nothing": None}


def registry(tools: list[ToolSpec], upstream: FakeUpstream, **kw: Any) -> Registry:
    return Registry(Inventory(tools), upstream, **kw)


SCOPE = Access.of(parse_function_config(None))


async def test_paging_fetches_until_limit_and_reports_next_offset(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=230)
    result = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "limit": 120}, SCOPE
    )
    assert not result.is_error
    data = json.loads(result.text)
    assert [i["id"] for i in data["items"]] == [str(i) for i in range(120)]
    assert data["total"] == 230 and data["next_offset"] == 120
    assert [r["params"]["page"] for r in up.requests] == [1, 2] and up.requests[0]["params"]["size"] == 100
    assert "empty" not in data["items"][0] and "tags" not in data["items"][0]  # nulls and empties dropped


async def test_paging_continues_past_100_from_any_offset(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=230)
    data = json.loads(
        (
            await registry(tools, up).call(
                "accounting_get_clients", {"consumer_id": CONSUMER, "offset": 195, "limit": 50}, SCOPE
            )
        ).text
    )
    assert [i["id"] for i in data["items"]] == [str(i) for i in range(195, 230)]
    assert "next_offset" not in data and data["offset"] == 195


async def test_aligned_offsets_use_the_limit_as_page_size(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=230)
    await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "offset": 50, "limit": 50}, SCOPE
    )
    assert up.requests == [up.requests[0]] and up.requests[0]["params"] | {} == {"page": 2, "size": 50}


async def test_limit_is_capped_by_max_items_in_the_schema(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=5000)
    result = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "limit": 5000}, SCOPE
    )
    assert result.is_error and json.loads(result.text)["field"] == "limit"
    assert up.requests == []


@pytest.mark.parametrize(
    ("args", "field", "hint"),
    [
        ({}, "consumer_id", "nothing was sent to Chift"),
        ({"consumer_id": CONSUMER, "limit": "ten"}, "limit", "nothing was sent to Chift"),
        # An unknown argument: the hint lists the ones the tool takes.
        ({"consumer_id": CONSUMER, "bogus": 1}, "bogus", "valid arguments: consumer_id, folder_id"),
    ],
)
async def test_bad_arguments_never_reach_the_upstream(
    tools: list[ToolSpec], args: dict[str, Any], field: str, hint: str
) -> None:
    up = FakeUpstream(total=3)
    result = await registry(tools, up).call("accounting_get_clients", args, SCOPE)
    payload = json.loads(result.text)
    assert result.is_error and payload["error"] == "INVALID_ARGUMENTS" and payload["field"] == field
    assert hint in payload["hint"]
    assert up.requests == []


async def test_nested_body_errors_name_the_nested_field(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    args = {
        "consumer_id": CONSUMER,
        "invoice_type": "customer_invoice",
        "currency": "EUR",
        "untaxed_amount": 100,
        "tax_amount": 21,
        "total": 121,
        "invoice_date": "2026-01-31",
        "due_date": "2026-02-28",
        "lines": [{"unit_price": 100, "quantity": 1}],
    }
    payload = json.loads((await registry(tools, up).call("accounting_create_invoice", args, SCOPE)).text)
    assert payload["field"].startswith("lines[0].") and up.requests == []
    args["invoice_date"] = "31/01/2026"
    args["lines"] = copy.deepcopy([INVOICE_LINE])
    payload = json.loads((await registry(tools, up).call("accounting_create_invoice", args, SCOPE)).text)
    assert payload["field"] == "invoice_date" and up.requests == []


async def test_a_valid_create_sends_path_query_and_body_with_a_request_id(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    address = dict(ADDRESS)
    args = {
        "consumer_id": CONSUMER,
        "folder_id": "F1",
        "name": "ACME",
        "is_company": True,
        "addresses": [address],
        "bogus_filtered": 1,
    }
    tool = next(t for t in tools if t.name == "accounting_create_client")
    args = {k: v for k, v in args.items() if k in tool.input_schema["properties"]}
    result = await registry(tools, up).call("accounting_create_client", args, SCOPE)
    assert not result.is_error, result.text
    sent = up.requests[0]
    assert sent["method"] == "POST" and sent["path"] == f"/consumers/{CONSUMER}/accounting/clients"
    assert sent["params"] == {"folder_id": "F1"} and sent["json"]["name"] == "ACME"
    assert sent["request_id"] and len(sent["request_id"]) == 32
    assert json.loads(result.text) == {"id": "new", "echo": sent["json"]}


async def test_string_booleans_are_written_back_as_strings(tools: list[ToolSpec]) -> None:
    tool = next(
        t
        for t in tools
        for n, a in t.args.items()
        if a.where == "query"
        and t.input_schema["properties"][n].get("type") == "boolean"
        and t.kind == "get"
        and not t.paginated
    )
    name = next(
        n
        for n, a in tool.args.items()
        if a.where == "query" and tool.input_schema["properties"][n].get("type") == "boolean"
    )
    up = FakeUpstream()
    required = {
        k: "x"
        for k in tool.input_schema.get("required", [])
        if tool.input_schema["properties"][k].get("type") == "string"
    }
    await registry(tools, up).call(tool.name, {**required, name: True}, SCOPE)
    assert up.requests and up.requests[0]["params"][name] == "true"


async def test_bound_consumer_is_injected_and_cannot_be_overridden(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=1)
    bound = Access.of(parse_function_config(None), consumer_id=CONSUMER)
    reg = registry(tools, up)
    assert all("consumer_id" not in t.input_schema["properties"] for t in reg.view(bound).tools)
    ok = await reg.call("accounting_get_clients", {}, bound)
    assert not ok.is_error and up.requests[-1]["path"] == f"/consumers/{CONSUMER}/accounting/clients"
    other = await reg.call(
        "accounting_get_clients", {"consumer_id": "22222222-2222-4222-8222-222222222222"}, bound
    )
    assert other.is_error and json.loads(other.text)["error"] == "OUT_OF_SCOPE"
    assert len(up.requests) == 1


async def test_out_of_scope_and_unknown_tools_are_refused_with_a_reason(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    reg = registry(tools, up)
    read_only = Access.of(parse_function_config(None), read_only=True)
    refused = json.loads(
        (await reg.call("accounting_create_client", {"consumer_id": CONSUMER, "name": "x"}, read_only)).text
    )
    assert refused["error"] == "OUT_OF_SCOPE" and "read-only" in refused["message"]
    unknown = json.loads((await reg.call("accounting_get_clientz", {}, SCOPE)).text)
    assert "accounting_get_clients" in unknown["hint"]
    assert up.requests == []


async def test_upstream_errors_become_actionable_results(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(
        error=ChiftAPIError(404, "Client not found", error_code="ERROR_NOT_FOUND", hint="check the id")
    )
    result = await registry(tools, up).call(
        "accounting_get_client", {"consumer_id": CONSUMER, "client_id": "nope"}, SCOPE
    )
    assert result.is_error
    assert result.structured == {
        "error": "ERROR_NOT_FOUND",
        "status": 404,
        "message": "Client not found",
        "hint": "check the id",
        "retryable": False,
    }


async def test_long_results_are_cut_at_an_item_boundary_with_a_note(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=300)
    reg = registry(tools, up, max_result_chars=2000)
    result = await reg.call("accounting_get_clients", {"consumer_id": CONSUMER, "limit": 300}, SCOPE)
    assert len(result.text) <= 2000
    data = json.loads(result.text)
    kept = len(data["items"])
    assert 0 < kept < 300 and data["truncated"] and data["next_offset"] == kept
    assert f"offset={kept}" in data["note"] and "300" in data["note"]


def test_prune_drops_only_empty_values() -> None:
    assert prune({"a": None, "b": "", "c": [], "d": {}, "e": 0, "f": False, "g": [None, {"h": None}, 1]}) == {
        "e": 0,
        "f": False,
        "g": [1],
    }


async def test_local_tools_answer_in_process_with_the_same_validation(tools: list[ToolSpec]) -> None:
    from chift_mcp.tools.definition import LocalCall, local_tool

    seen: list[tuple[dict[str, Any], Access]] = []

    async def echo(args: dict[str, Any], call: LocalCall) -> Any:
        seen.append((args, call.access))
        return {"said": args["text"], "nothing": None}

    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    up = FakeUpstream()
    echo_tool = local_tool(
        "echo", origin="search", title="Echo", description="Says it back.", input_schema=schema, handler=echo
    )
    reg = Registry(Inventory([*tools, echo_tool]), up)
    assert "echo" in [t.name for t in reg.view(SCOPE).tools]  # not subject to the function config
    ok = await reg.call("echo", {"text": "hi"}, SCOPE)
    assert ok.structured == {"said": "hi"} and seen[0][1] is SCOPE
    bad = await reg.call("echo", {"text": 3}, SCOPE)
    assert bad.is_error and json.loads(bad.text)["field"] == "text" and len(seen) == 1
    assert up.requests == []


async def test_path_arguments_cannot_change_the_route(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    scope = Access.of(parse_function_config('{"connections": ["get", "delete"]}'))
    # Dot segments, slashes and backslashes (also percent-encoded, once or twice) would reach another
    # route behind a proxy that decodes %2F or collapses dot segments.
    for bad in ("..", ".", "", " ", "a/b", "..%2F..", "a%2fb", "%2e%2e", "a\\b", "a%5Cb", "%252e%252e"):
        result = await registry(tools, up).call(
            "connections_delete_connection", {"consumer_id": CONSUMER, "connectionid": bad}, scope
        )
        assert result.is_error and json.loads(result.text)["field"] == "connectionid", bad
    assert up.requests == []
    await registry(tools, up).call(
        "connections_get_connection", {"consumer_id": CONSUMER, "connectionid": "a b?c#d"}, scope
    )
    assert up.requests[0]["path"].endswith("/connections/a%20b%3Fc%23d")


async def test_a_paginated_post_that_reads_keeps_its_method_and_body_and_no_request_id(
    tools: list[ToolSpec],
) -> None:
    up = FakeUpstream(total=3)
    args = {"consumer_id": CONSUMER, "accounts": ["7"], "end": "202512"}
    result = await registry(tools, up).call("accounting_get_accounts_balances", args, SCOPE)
    assert not result.is_error, result.text
    sent = up.requests[0]
    assert sent["method"] == "POST" and sent["json"] == {"accounts": ["7"], "end": "202512"}
    assert sent["params"]["page"] == 1 and sent["request_id"] is None


@pytest.mark.parametrize("field", ["limit", "offset", "folder_id", "fields", "consumer_id"])
async def test_a_null_argument_is_refused_naming_the_field_not_taken_for_unset(
    tools: list[ToolSpec], field: str
) -> None:
    """ "limit": null (the Inspector's value for a number it cannot read) once answered the default
    page; no published schema allows null, so it is refused like any bad value, nothing sent."""
    up = FakeUpstream(total=2)
    result = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, field: None}, SCOPE
    )
    body = json.loads(result.text)
    assert result.is_error and body["error"] == "INVALID_ARGUMENTS" and body["field"] == field, body
    assert "null is not" in body["message"] and "leave it out" in body["message"], body
    assert up.requests == []


async def test_header_arguments_must_be_printable(tools: list[ToolSpec]) -> None:
    tool = next(t for t in tools if any(a.where == "header" for a in t.args.values()))
    name = next(n for n, a in tool.args.items() if a.where == "header")
    up = FakeUpstream()
    scope = Access.of(parse_function_config(json.dumps({tool.domain: ["get", "create", "update", "delete"]})))
    required = {k: "x" for k in tool.input_schema.get("required", []) if k != name}
    result = await registry(tools, up).call(tool.name, {**required, name: "1\r\nX-Injected: yes"}, scope)
    assert result.is_error and json.loads(result.text)["field"] == name and up.requests == []


def test_a_long_list_from_a_tool_without_offset_is_cut_without_promising_an_offset(
    tools: list[ToolSpec],
) -> None:
    reg = registry(tools, FakeUpstream(), max_result_chars=1000)
    items = [{"id": i, "name": "x" * 50} for i in range(100)]
    data = json.loads(reg.shape(items, page=True).text)
    assert data["truncated"] and "offset" not in data["note"] and "next_offset" not in data
    huge = reg.shape([{"id": 1, "blob": "y" * 5000}], page=True)
    assert huge.structured is None and "fields=[...]" in huge.text and len(huge.text) <= 1000


def test_text_and_structured_content_say_the_same_whether_cut_or_not(tools: list[ToolSpec]) -> None:
    reg = registry(tools, FakeUpstream(), max_result_chars=3000)
    items = [{"id": i, "name": f"n{i}", "tags": [], "nested": {"a": None, "b": i}} for i in range(200)]
    for data, paged in (
        (items[:5], False),
        (items, False),
        ({"items": items, "total": 900, "offset": 0}, True),
    ):
        result = reg.shape(data, page=True, paged=paged)
        assert json.loads(result.text) == result.structured
        assert len(result.text) <= 3000 and next(iter(result.structured)) == "items"


async def test_fields_also_narrow_what_a_create_returns(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    address = dict(ADDRESS)
    args = {"consumer_id": CONSUMER, "name": "ACME", "addresses": [address], "fields": ["id"]}
    result = await registry(tools, up).call("accounting_create_client", args, SCOPE)
    assert json.loads(result.text) == {"id": "new"}
    assert "fields" not in up.requests[0]["json"]  # a shaping argument, never sent to Chift


async def test_non_finite_numbers_are_refused_naming_the_field(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    args = {"consumer_id": CONSUMER, "accounts": ["7"], "end": "202512"}
    for bad in (float("nan"), float("inf"), float("-inf"), 1e400):
        result = await registry(tools, up).call(
            "accounting_get_accounts_balances", {**args, "limit": bad}, SCOPE
        )
        body = json.loads(result.text)
        assert result.is_error and body["error"] == "INVALID_ARGUMENTS" and body["field"] == "limit", (
            result.text
        )
    result = await registry(tools, up).call(
        "accounting_create_generic_journal_entry",
        {
            "consumer_id": CONSUMER,
            "journal_id": "j",
            "date": "2026-01-01",
            "items": [{"debit": float("nan")}],
        },
        SCOPE,
    )
    assert result.is_error and json.loads(result.text)["field"] == "items[0].debit"
    assert up.requests == []


async def test_a_query_too_long_for_a_url_is_refused_naming_the_field(tools: list[ToolSpec]) -> None:
    up = FakeUpstream()
    result = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "search": "x" * 70_000}, SCOPE
    )
    body = json.loads(result.text)
    assert result.is_error and body["error"] == "INVALID_ARGUMENTS" and body["field"] == "search"
    assert up.requests == []
    ok = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "search": "x" * 500}, SCOPE
    )
    assert not ok.is_error


async def test_an_offset_past_any_list_is_refused_before_any_request(tools: list[ToolSpec]) -> None:
    up = FakeUpstream(total=3)
    result = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "offset": 1e300}, SCOPE
    )
    assert result.is_error and json.loads(result.text)["field"] == "offset" and up.requests == []
    ok = await registry(tools, up).call(
        "accounting_get_clients", {"consumer_id": CONSUMER, "offset": 2}, SCOPE
    )
    assert not ok.is_error
