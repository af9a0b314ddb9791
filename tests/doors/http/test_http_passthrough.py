"""``--auth chift``: the bearer is the caller's own Chift access token, forwarded upstream per request.
The sandbox Chift API runs on a loopback port (it issues and checks the tokens); the door runs
in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from support.http import DEMO, TIMEOUT, door, mcp_client, payload, serving

from chift_mcp.app import Runtime
from chift_mcp.errors import ConfigError
from chift_mcp.sandbox import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, build_app
from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def passthrough() -> AsyncIterator[tuple[str, str]]:
    """(MCP endpoint URL, sandbox URL) with the door in pass-through mode."""
    async with serving(build_app()) as sandbox_url:
        runtime = Runtime.open(Settings(url_base=sandbox_url, max_retries=0), passthrough=True)
        d = door(runtime=runtime, sandbox=False, auth="chift")
        async with serving(d.app) as base:
            yield base + "/mcp", sandbox_url


async def chift_token(sandbox_url: str) -> str:
    async with httpx2.AsyncClient() as http:
        resp = await http.post(
            sandbox_url + "/token",
            json={
                "clientId": SANDBOX_CLIENT_ID,
                "clientSecret": SANDBOX_CLIENT_SECRET,
                "accountId": SANDBOX_ACCOUNT_ID,
            },
        )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


async def test_the_callers_chift_token_is_forwarded_and_the_consumer_header_binds() -> None:
    with anyio.fail_after(TIMEOUT):
        async with passthrough() as (url, sandbox_url):
            token = await chift_token(sandbox_url)
            async with mcp_client(url, token, headers={"X-Chift-Consumer-Id": DEMO}) as client:
                bound_tools = (await client.list_tools()).tools
                bound = await client.call_tool("accounting_get_clients", {"limit": 2})
            async with mcp_client(url, token) as client:
                tools = (await client.list_tools()).tools
                by_argument = await client.call_tool(
                    "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
                )
            async with httpx2.AsyncClient() as http:
                no_token = await http.post(url, json={})
    assert all("consumer_id" not in t.input_schema.get("properties", {}) for t in bound_tools)
    assert not bound.is_error and len(payload(bound)["items"]) == 2
    clients = next(t for t in tools if t.name == "accounting_get_clients")
    assert "consumer_id" in clients.input_schema["properties"]
    assert not by_argument.is_error and len(payload(by_argument)["items"]) == 1
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")


async def test_a_rejected_chift_token_is_a_tool_error_that_never_echoes_the_token() -> None:
    bad = "eyJhbGciOiJIUzI1NiJ9.not-a-sandbox-token.signature"
    with anyio.fail_after(TIMEOUT):
        async with passthrough() as (url, _), mcp_client(url, bad) as client:
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO})
    assert result.is_error
    error = payload(result)
    assert error["status"] == 401 and "access token" in error["hint"]
    assert bad not in result.content[0].text


async def test_concurrent_callers_never_get_each_others_token() -> None:
    """A valid and an invalid token, interleaved on the same server: if a token ever leaked from one
    request to another, some of the invalid caller's calls would succeed (or the valid one's fail)."""
    bad = "eyJhbGciOiJIUzI1NiJ9.revoked.signature"
    outcomes: dict[str, list[bool]] = {"good": [], "bad": []}
    with anyio.fail_after(TIMEOUT):
        async with passthrough() as (url, sandbox_url):
            good = await chift_token(sandbox_url)

            async def caller(name: str, token: str) -> None:
                async with mcp_client(url, token) as client:
                    for _ in range(15):
                        result = await client.call_tool(
                            "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
                        )
                        outcomes[name].append(not result.is_error)

            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(caller, "good", good)
                    tg.start_soon(caller, "bad", bad)
    assert outcomes["good"] == [True] * 30
    assert outcomes["bad"] == [False] * 30


def test_passthrough_refuses_the_in_process_sandbox() -> None:
    with pytest.raises(ConfigError, match="chift-mcp sandbox"):
        Runtime.open(Settings(), sandbox=True, passthrough=True)


async def test_many_consumers_share_one_cached_tool_list() -> None:
    """Any bearer passes the door in pass-through mode (Chift judges it on use): a consumer header per
    request must not grow the server's per-scope caches, or anyone could exhaust its memory."""
    import uuid

    with anyio.fail_after(TIMEOUT):
        async with serving(build_app()) as sandbox_url:
            runtime = Runtime.open(Settings(url_base=sandbox_url), passthrough=True)
            d = door(runtime=runtime, sandbox=False, auth="chift")
            async with serving(d.app) as base:
                for _ in range(20):
                    consumer = str(uuid.uuid4())
                    async with mcp_client(
                        base + "/mcp", "any-bearer", headers={"X-Chift-Consumer-Id": consumer}
                    ) as c:
                        tools = (await c.list_tools()).tools
                    assert tools and all(
                        "consumer_id" not in t.input_schema.get("properties", {}) for t in tools
                    )
    assert len(runtime.inventory._views) == 1
