"""What the MCP server answers in the protocol's own channel (JSON-RPC errors) rather than as a tool
result, the same on every door: here in memory through the SDK's client; over HTTP in
test_http_hardening.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from chift_mcp.app import Runtime
from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    runtime = Runtime.open(Settings(read_only=True), sandbox=True)
    try:
        async with Client(runtime.server(), mode="legacy") as c:
            yield c
    finally:
        await runtime.aclose()


async def test_a_cursor_we_never_issued_is_invalid_params(client: Client) -> None:
    whole = await client.list_tools()
    assert whole.next_cursor is None  # one page: we never issue cursors
    listings = {"tools/list": client.list_tools, "prompts/list": client.list_prompts}
    for method, listing in listings.items():
        with anyio.fail_after(10), pytest.raises(MCPError) as caught:
            await listing(cursor="2", cache_mode="bypass")  # type: ignore[operator]
        assert caught.value.error.code == types.INVALID_PARAMS, method
        assert "cursor" in caught.value.error.message, method


async def test_an_unknown_tool_is_a_protocol_error_that_names_the_closest_tools(client: Client) -> None:
    with anyio.fail_after(10), pytest.raises(MCPError) as caught:
        await client.call_tool("accounting_get_clientz", {"consumer_id": DEMO})
    error = caught.value.error
    assert error.code == types.INVALID_PARAMS
    assert error.message.startswith("Unknown tool: accounting_get_clientz")
    assert "accounting_get_clients" in error.message
    assert isinstance(error.data, dict) and "accounting_get_clients" in error.data["suggestions"]


async def test_a_tool_that_exists_outside_the_callers_access_stays_a_tool_error(client: Client) -> None:
    result: Any = await client.call_tool("accounting_create_client", {"consumer_id": DEMO, "name": "x"})
    assert result.is_error and result.structured_content["error"] == "OUT_OF_SCOPE"
