"""The HTTP door against malformed or hostile requests, in process (httpx2's ASGI transport): repeated
credentials or Host headers, paths next to the MCP endpoint, list cursors we never issued, unknown
tools."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from support.http import TIMEOUT, asgi_client, door

pytestmark = pytest.mark.anyio

ADMIN = "cmcp_admin_token_000000000000000000000000"
OTHER = "cmcp_other_token_000000000000000000000000"
TOKENS: dict[str, dict[str, Any]] = {ADMIN: {"name": "admin"}, OTHER: {"name": "other"}}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")]


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("two Host headers", [("host", "127.0.0.1:8000"), ("host", "evil.example")]),
        ("two Host headers, both served", [("host", "127.0.0.1:8000"), ("host", "localhost:8000")]),
        ("two bearer tokens", [("authorization", f"Bearer {OTHER}"), ("authorization", f"Bearer {ADMIN}")]),
        (
            "the same token twice",
            [("authorization", f"Bearer {ADMIN}"), ("authorization", f"Bearer {ADMIN}")],
        ),
        ("two consumer headers", [("x-chift-consumer-id", "a"), ("x-chift-consumer-id", "b")]),
        ("two origins", [("origin", "http://localhost:1"), ("origin", "http://localhost:2")]),
    ],
)
async def test_a_repeated_host_or_credential_header_is_refused_not_resolved(
    case: str, headers: list[tuple[str, str]]
) -> None:
    d = door(tokens=TOKENS)
    base = [] if any(k == "authorization" for k, _ in headers) else [("authorization", f"Bearer {ADMIN}")]
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            resp = await http.post("/mcp", json=INIT, headers=[*MCP, *base, *headers])
    assert resp.status_code == 400, case
    assert resp.headers["x-chift-refusal"] == "repeated_header", case
    assert "mcp-session-id" not in resp.headers, case


@pytest.mark.parametrize("path", ["/mcp/", "/mcp/?token=x", "/mcp/?a=1", "/nowhere/", "/healthz/"])
async def test_the_host_is_checked_before_anything_answers_next_to_the_endpoint(path: str) -> None:
    d = door(tokens=TOKENS)
    async with asgi_client(d.app) as http:
        resp = await http.post(
            path, json=INIT, headers=[*MCP, ("host", "evil.example"), ("authorization", f"Bearer {ADMIN}")]
        )
    assert resp.status_code == 421 and resp.headers["x-chift-refusal"] == "invalid_host"
    assert "location" not in resp.headers and "evil.example" not in resp.text


async def test_the_endpoint_with_a_trailing_slash_is_the_endpoint_behind_the_same_door() -> None:
    d = door(tokens=TOKENS)
    async with asgi_client(d.app) as http:
        served = await http.post("/mcp/", json=INIT, headers=[*MCP, ("authorization", f"Bearer {ADMIN}")])
        query_token = await http.post(f"/mcp/?access_token={ADMIN}", json=INIT, headers=MCP)
        anonymous = await http.post("/mcp/", json=INIT, headers=MCP)
    assert (
        served.status_code == 200 and "mcp-session-id" in served.headers and "location" not in served.headers
    )
    assert query_token.status_code == 401 and query_token.headers["x-chift-refusal"] == "query_token"
    assert anonymous.status_code == 401


async def rpc(http: Any, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    resp = await http.post("/mcp", json=body, headers=[*MCP, ("authorization", f"Bearer {token}")])
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_over_http_a_cursor_and_an_unknown_tool_are_json_rpc_errors_and_scope_stays_a_tool_error() -> (
    None
):
    d = door(
        tokens={**TOKENS, OTHER: {"name": "reader", "read_only": True}}, stateless=True, json_response=True
    )
    async with asgi_client(d.app) as http:
        tools = await rpc(http, ADMIN, "tools/list", {"cursor": "1"})
        prompts = await rpc(http, ADMIN, "prompts/list", {"cursor": "1"})
        unknown = await rpc(http, OTHER, "tools/call", {"name": "accounting_get_clientz", "arguments": {}})
        refused = await rpc(
            http, OTHER, "tools/call", {"name": "accounting_create_client", "arguments": {"name": "x"}}
        )
    assert tools["error"]["code"] == prompts["error"]["code"] == -32602
    assert unknown["error"]["code"] == -32602 and "accounting_get_clients" in unknown["error"]["message"]
    assert refused["result"]["isError"] and refused["result"]["structuredContent"]["error"] == "OUT_OF_SCOPE"
