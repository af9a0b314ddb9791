"""The HTTP door's refusals: who may reach the MCP endpoint, and what a token's scope lets it see and
call. Every request here goes over a real loopback socket to uvicorn serving the door in-process,
against the in-process sandbox."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError
from support.http import ACCOUNTING_ONLY, DEMO, TIMEOUT, door, mcp_client, payload, serving

pytestmark = pytest.mark.anyio

ADMIN = "cmcp_admin_token_000000000000000000000000"
BOT_A = "cmcp_bot_for_consumer_a_0000000000000000"
READER = "cmcp_reader_accounting_gets_000000000000"
RO = "cmcp_read_only_everything_00000000000000"
ADDRESS = {
    "address_type": "main",
    "street": "Rue Haute 1",
    "city": "Brussels",
    "postal_code": "1000",
    "country": "BE",
}
TOKENS: dict[str, dict[str, Any]] = {
    ADMIN: {"name": "admin"},
    BOT_A: {"name": "bot-a", "consumer_id": DEMO},
    READER: {"name": "reader", "function_config": {"accounting": ["get"]}},
    RO: {"name": "ro", "read_only": True},
}
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
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def post(
    url: str, headers: dict[str, str] | None = None, body: Any = INIT, **kw: Any
) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
        return await http.post(url, json=body, headers={**MCP_HEADERS, **(headers or {})}, **kw)


# ------------------------------------------------------------------ refused before any MCP handling

HTTP_REFUSALS = [
    # (case, path+query, extra headers, status, refusal code)
    ("no token", "/mcp", {}, 401, "missing_token"),
    ("empty bearer", "/mcp", {"Authorization": "Bearer"}, 401, "missing_token"),
    ("basic scheme", "/mcp", {"Authorization": f"Basic {ADMIN}"}, 401, "missing_token"),
    (
        "wrong token",
        "/mcp",
        {"Authorization": "Bearer cmcp_not_a_token_at_all_00000000000"},
        401,
        "unknown_token",
    ),
    ("token with a suffix", "/mcp", {"Authorization": f"Bearer {ADMIN}x"}, 401, "unknown_token"),
    ("hash of a token as token", "/mcp", {"Authorization": "Bearer " + "0" * 64}, 401, "unknown_token"),
    ("token in the query string", f"/mcp?access_token={ADMIN}", {}, 401, "query_token"),
    (
        "token in query and header",
        f"/mcp?token={ADMIN}",
        {"Authorization": f"Bearer {ADMIN}"},
        401,
        "query_token",
    ),
    (
        "consumer A token, consumer B header",
        "/mcp",
        {"Authorization": f"Bearer {BOT_A}", "X-Chift-Consumer-Id": ACCOUNTING_ONLY},
        403,
        "consumer_not_allowed",
    ),
    (
        "malformed consumer header",
        "/mcp",
        {"Authorization": f"Bearer {ADMIN}", "X-Chift-Consumer-Id": "../accounts"},
        400,
        "invalid_consumer",
    ),
    (
        "cross-site origin",
        "/mcp",
        {"Authorization": f"Bearer {ADMIN}", "Origin": "https://evil.example"},
        403,
        "invalid_origin",
    ),
    (
        "loopback origin on another scheme",
        "/mcp",
        {"Authorization": f"Bearer {ADMIN}", "Origin": "https://localhost:3000"},
        403,
        "invalid_origin",
    ),
    (
        "cross-site fetch without origin",
        "/mcp",
        {"Authorization": f"Bearer {ADMIN}", "Sec-Fetch-Site": "cross-site"},
        403,
        "invalid_origin",
    ),
    (
        "rebinding host",
        "/mcp",
        {"Authorization": f"Bearer {ADMIN}", "Host": "evil.example:8000"},
        421,
        "invalid_host",
    ),
]


async def test_http_refusals_happen_before_any_mcp_handling() -> None:
    d = door(tokens=TOKENS)
    refused = 0
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            for case, path, headers, status, code in HTTP_REFUSALS:
                resp = await post(base + path, headers)
                assert resp.status_code == status, case
                assert resp.headers.get("x-chift-refusal") == code, case
                assert "mcp-session-id" not in resp.headers, case
                if status == 401:
                    assert resp.headers["www-authenticate"].startswith("Bearer"), case
                refused += 1
            # The same request with a good token is served: the refusals were about what they changed.
            ok = await post(
                base + "/mcp", {"Authorization": f"Bearer {ADMIN}", "Origin": "http://localhost:5173"}
            )
            assert ok.status_code == 200 and "mcp-session-id" in ok.headers
    assert refused == len(HTTP_REFUSALS) == 14


async def test_health_and_readiness_answer_without_auth() -> None:
    d = door(tokens=TOKENS)
    async with serving(d.app) as base, httpx2.AsyncClient() as http:
        health = await http.get(base + "/healthz")
        ready = await http.get(base + "/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["ready"] is True


async def test_readiness_says_503_when_chift_rejects_the_credentials() -> None:
    from chift_mcp.app import SANDBOX_URL, Runtime
    from chift_mcp.sandbox import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, build_app
    from chift_mcp.settings import Settings

    # A runtime on the sandbox (in process, no port) with a secret the sandbox refuses.
    settings = Settings(
        client_id=SANDBOX_CLIENT_ID,
        client_secret="wrong-secret",
        account_id=SANDBOX_ACCOUNT_ID,
        url_base=SANDBOX_URL,
        max_retries=0,
    )
    runtime = Runtime.open(settings, transport=httpx2.ASGITransport(app=build_app()))
    d = door(tokens=TOKENS, runtime=runtime, sandbox=False)
    async with serving(d.app) as base, httpx2.AsyncClient() as http:
        ready = await http.get(base + "/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert "wrong-secret" not in ready.text


async def test_oversized_body_is_413() -> None:
    d = door(tokens=TOKENS, settings={"http_max_body": 4096})
    big = {**INIT, "params": {**INIT["params"], "padding": "x" * 8000}}
    async with serving(d.app) as base:
        resp = await post(base + "/mcp", {"Authorization": f"Bearer {ADMIN}"}, body=big)
    assert resp.status_code == 413


async def test_a_session_belongs_to_the_token_that_opened_it() -> None:
    d = door(tokens=TOKENS)
    async with serving(d.app) as base:
        opened = await post(base + "/mcp", {"Authorization": f"Bearer {ADMIN}"})
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        hijack = await post(
            base + "/mcp",
            {
                "Authorization": f"Bearer {READER}",
                "Mcp-Session-Id": session,
                "Mcp-Protocol-Version": "2025-06-18",
            },
            body=listing,
        )
    assert hijack.status_code == 404


# ------------------------------------------------------------------ scope: what a token sees and calls


def names(tools: list[Any]) -> set[str]:
    return {t.name for t in tools}


async def test_consumer_bound_token_sees_no_consumer_id_and_reaches_only_its_consumer() -> None:
    d = door(tokens=TOKENS)
    log = d.runtime.sandbox_app.state.sandbox.log
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, mcp_client(base + "/mcp", BOT_A) as client:
            tools = (await client.list_tools()).tools
            own = await client.call_tool("accounting_get_clients", {"limit": 2})
            other = await client.call_tool(
                "accounting_get_clients", {"consumer_id": ACCOUNTING_ONLY, "limit": 2}
            )
            account = await client.call_tool("consumers_get_consumers", {})
    assert tools and all("consumer_id" not in t.input_schema.get("properties", {}) for t in tools)
    account_level = {t.name for t in d.runtime.inventory if t.operation and not t.consumer_scoped}
    assert "consumers_get_consumers" in account_level and not names(tools) & account_level
    assert not own.is_error and len(payload(own)["items"]) == 2
    assert other.is_error and payload(other)["error"] == "OUT_OF_SCOPE"
    assert account.is_error and payload(account)["error"] == "OUT_OF_SCOPE"
    consumers = {e["consumer_id"] for e in log if e.get("consumer_id")}
    assert consumers == {DEMO}  # every upstream request of this caller went to its consumer


async def test_consumer_bound_token_on_an_accounting_only_consumer_gets_its_active_domains() -> None:
    tokens = {BOT_A: {"name": "bot-b", "consumer_id": ACCOUNTING_ONLY}}
    d = door(tokens=tokens)
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, mcp_client(base + "/mcp", BOT_A) as client:
            tools = (await client.list_tools()).tools
            refused = await client.call_tool("pos_get_orders", {})
    domains = {t.name.split("_")[0] for t in tools}
    assert "accounting" in domains and not domains & {"pos", "ecommerce", "invoicing", "pms", "payment"}
    assert refused.is_error and "no active pos connection" in payload(refused)["message"]


async def test_tools_outside_a_token_scope_are_refused_even_when_never_listed() -> None:
    d = door(tokens=TOKENS)
    calls = [
        (READER, "pos_get_orders", {"consumer_id": DEMO}),
        (READER, "accounting_create_client", {"consumer_id": DEMO, "name": "x"}),
        (READER, "consumers_get_consumers", {}),
        (RO, "accounting_create_client", {"consumer_id": DEMO, "name": "x"}),
        (
            RO,
            "accounting_update_client",
            {"consumer_id": DEMO, "client_id": "1"},
        ),  # was pos_update_order: no such tool
        (BOT_A, "consumers_get_consumers", {}),  # account-level: off for a consumer-bound token
    ]
    refused = 0
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            for token, tool, args in calls:
                async with mcp_client(base + "/mcp", token) as client:
                    listed = names((await client.list_tools()).tools)
                    result = await client.call_tool(tool, args)
                assert tool not in listed, tool
                assert result.is_error and payload(result)["error"] == "OUT_OF_SCOPE", (token, tool)
                refused += 1
            async with mcp_client(base + "/mcp", READER) as client:
                reader_tools = names((await client.list_tools()).tools)
            async with mcp_client(base + "/mcp", ADMIN) as client:
                admin_tools = names((await client.list_tools()).tools)
    assert refused == len(calls)
    kinds = {(t.domain, t.kind) for t in d.runtime.inventory if t.name in reader_tools}
    assert reader_tools < admin_tools and kinds == {("accounting", "get")}
    writes = d.runtime.sandbox_app.state.sandbox.log
    # Nothing refused ever reached Chift (the token fetch and the bound consumer's connections aside).
    assert {(e["method"], e["operation_id"]) for e in writes} <= {
        ("POST", "generate_access_token_token_post"),
        ("GET", "connections_get_connections"),
    }


async def test_discovery_mode_call_operation_keeps_the_token_scope() -> None:
    d = door(tokens=TOKENS, settings={"tool_mode": "discovery"})
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, mcp_client(base + "/mcp", READER) as client:
            listed = names((await client.list_tools()).tools)
            allowed = await client.call_tool(
                "call_operation",
                {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 1}},
            )
            refused = await client.call_tool(
                "call_operation", {"name": "pos_get_orders", "arguments": {"consumer_id": DEMO}}
            )
    assert "call_operation" in listed
    assert not allowed.is_error
    assert refused.is_error and payload(refused)["error"] == "OUT_OF_SCOPE"


async def test_modern_protocol_requests_go_through_the_same_door_and_scope() -> None:
    d = door(tokens=TOKENS)
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            async with mcp_client(base + "/mcp", BOT_A, mode="auto") as client:
                tools = (await client.list_tools()).tools
                other = await client.call_tool("accounting_get_clients", {"consumer_id": ACCOUNTING_ONLY})
            # The SDK's client shows the 401 body's JSON-RPC error (tests/test_dropin.py has the rest).
            with pytest.RaisesGroup(
                pytest.RaisesExc(MCPError, match="^401 Unauthorized: unknown token"),
                flatten_subgroups=True,
                allow_unwrapped=True,
            ):
                async with mcp_client(base + "/mcp", "cmcp_wrong_token_00000000000000000", mode="auto") as c:
                    await c.list_tools()
    assert tools and all("consumer_id" not in t.input_schema.get("properties", {}) for t in tools)
    assert other.is_error and payload(other)["error"] == "OUT_OF_SCOPE"


async def test_server_bound_consumer_refuses_tokens_bound_elsewhere() -> None:
    tokens = {BOT_A: {"name": "bot-b", "consumer_id": ACCOUNTING_ONLY}, ADMIN: {"name": "admin"}}
    d = door(tokens=tokens, settings={"consumer_id": DEMO})
    async with serving(d.app) as base:
        other = await post(base + "/mcp", {"Authorization": f"Bearer {BOT_A}"})
        header = await post(
            base + "/mcp", {"Authorization": f"Bearer {ADMIN}", "X-Chift-Consumer-Id": ACCOUNTING_ONLY}
        )
        same = await post(base + "/mcp", {"Authorization": f"Bearer {ADMIN}", "X-Chift-Consumer-Id": DEMO})
    assert other.status_code == 403 and header.status_code == 403
    assert same.status_code == 200


async def test_consumer_header_narrows_an_unbound_token() -> None:
    d = door(tokens=TOKENS)
    with anyio.fail_after(TIMEOUT):
        async with (
            serving(d.app) as base,
            mcp_client(base + "/mcp", ADMIN, headers={"X-Chift-Consumer-Id": ACCOUNTING_ONLY}) as client,
        ):
            tools = (await client.list_tools()).tools
            result = await client.call_tool("accounting_get_clients", {"limit": 1})
    assert all("consumer_id" not in t.input_schema.get("properties", {}) for t in tools)
    assert not any(n.startswith("pos_") for n in names(tools))
    assert not result.is_error


# ------------------------------------------------------------------ logs


async def test_one_log_line_per_request_with_id_tool_status_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = door(tokens=TOKENS)
    caplog.set_level(logging.DEBUG)
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            async with mcp_client(base + "/mcp", READER) as client:
                await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
                await client.call_tool("pos_get_orders", {"consumer_id": DEMO})
            await post(base + f"/mcp?access_token={ADMIN}")
            await post(base + "/mcp", {"Authorization": "Bearer cmcp_guess_0000000000000000000000000000"})
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "chift_mcp.http" and r.getMessage().startswith("rid=")
    ]
    calls = [line for line in lines if "mcp=tools/call" in line]
    assert any("tool=accounting_get_clients result=ok" in line and " 200 " in line for line in calls)
    assert any("tool=pos_get_orders result=tool_error" in line for line in calls)
    assert any(" 401 " in line and "refused=query_token" in line for line in lines)
    assert all("caller=reader" in line for line in calls)
    # Everything the server side logged (the test's own HTTP client logs its URLs: not the server's).
    client_side = ("httpx2", "httpcore2", "mcp.client")
    server = [r for r in caplog.records if not r.name.startswith(client_side)]
    assert len(server) > len(lines)
    everything = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in server)
    for secret in (ADMIN, READER, "cmcp_guess_0000000000000000000000000000", "sandbox-secret"):
        assert secret not in everything
    assert "access_token" not in everything


async def _call_over_http(d: Any, name: str, arguments: dict[str, Any]) -> httpx2.Response:
    async with serving(d.app) as base, httpx2.AsyncClient(timeout=TIMEOUT) as http:
        auth = {**MCP_HEADERS, "Authorization": f"Bearer {ADMIN}"}
        opened = await http.post(base + "/mcp", json=INIT, headers=auth)
        session = {
            **auth,
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "Mcp-Protocol-Version": "2025-06-18",
        }
        await http.post(
            base + "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session
        )
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        return await http.post(base + "/mcp", json=call, headers=session)


async def test_a_slow_read_gives_up_inside_the_request_limit_with_a_retryable_error() -> None:
    """The Chift calls' deadline is the door's limit minus a margin: the agent reads why, no bare 504."""
    d = door(tokens=TOKENS, json_response=True, settings={"http_request_timeout": 1.2})
    d.runtime.sandbox_app.state.sandbox.faults.add(match="accounting_get_clients", kind="latency", latency=3)
    started = time.monotonic()
    with anyio.fail_after(TIMEOUT):
        slow = await _call_over_http(d, "accounting_get_clients", {"consumer_id": DEMO})
    assert time.monotonic() - started < 1.2 + 1.0  # the request's own limit, plus the session set-up
    assert slow.status_code == 200
    result = slow.json()["result"]
    body = json.loads(result["content"][0]["text"])
    assert result["isError"] is True and body["error"] == "CHIFT_UNREACHABLE" and body["retryable"] is True
    assert "client_request_id" not in body  # a read carries none


async def test_a_create_cut_off_by_the_request_limit_names_its_request_id_and_how_to_check_it() -> None:
    """Hardening #1: a create that may have reached Chift is never answered with a bare 504."""
    d = door(tokens=TOKENS, json_response=True, settings={"http_request_timeout": 1.2})
    d.runtime.sandbox_app.state.sandbox.faults.add(
        match="POST /consumers/*/accounting/clients", kind="latency", latency=3
    )
    with anyio.fail_after(TIMEOUT):
        cut = await _call_over_http(
            d, "accounting_create_client", {"consumer_id": DEMO, "name": "Acme", "addresses": [ADDRESS]}
        )
    assert cut.status_code == 200
    result = cut.json()["result"]
    body = json.loads(result["content"][0]["text"])
    assert result["isError"] is True and body["client_request_id"]
    assert "transactions" in body["hint"] and body["client_request_id"] in body["hint"]
    assert "before sending" in body["hint"].lower() or "check" in body["hint"].lower()


async def test_log_lines_cannot_be_forged_through_the_path_or_the_method(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = door(tokens=TOKENS)
    caplog.set_level(logging.INFO, logger="chift_mcp.http")
    forged = {"jsonrpc": "2.0", "id": 9, "method": "tools/list\nrid=forged POST /mcp 200", "params": {}}
    async with serving(d.app) as base:
        await post(base + "/mcp%0Arid=forged%20POST%20/mcp%20200", {"Authorization": f"Bearer {ADMIN}"})
        opened = await post(base + "/mcp", {"Authorization": f"Bearer {ADMIN}"})
        session = {
            "Authorization": f"Bearer {ADMIN}",
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "Mcp-Protocol-Version": "2025-06-18",
        }
        await post(base + "/mcp", session, body={"jsonrpc": "2.0", "method": "notifications/initialized"})
        await post(base + "/mcp", session, body=forged)
    messages = [r.getMessage() for r in caplog.records if r.name == "chift_mcp.http"]
    assert not any("\n" in m for m in messages)
    assert sum(m.startswith("rid=forged") for m in messages) == 0
    assert any("mcp=?" in m for m in messages)


async def test_auth_none_serves_loopback_without_a_token() -> None:
    d = door(auth="none")
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, mcp_client(base + "/mcp") as client:
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    assert not result.is_error


def test_allow_lists_match_exactly_or_any_port() -> None:
    from chift_mcp.doors.http.guard import HttpOptions, allowed
    from chift_mcp.settings import Settings

    loopback = HttpOptions.from_settings(Settings())
    assert loopback.allowed_hosts is not None
    assert allowed("127.0.0.1:8000", loopback.allowed_hosts) and allowed("localhost", loopback.allowed_hosts)
    assert not allowed("127.0.0.1.evil.example:8000", loopback.allowed_hosts)
    assert not allowed("localhost:80x", loopback.allowed_hosts)
    assert allowed("http://localhost:5173", loopback.allowed_origins)
    assert not allowed("http://localhost.evil.example", loopback.allowed_origins)
    public = HttpOptions.from_settings(
        Settings(http_allowed_hosts="mcp.example.com", http_allowed_origins="https://app.example.com"),
        host="0.0.0.0",
    )
    assert public.allowed_hosts == ("mcp.example.com",)
    assert public.allowed_origins == ("https://app.example.com",)  # no loopback defaults off loopback
    assert HttpOptions.from_settings(Settings(), host="0.0.0.0").allowed_hosts is None


async def test_a_new_connection_of_a_tokens_consumer_reaches_its_session_as_a_tool_list_change() -> None:
    import mcp_types as types

    bot = "cmcp_bot_for_accounting_only_00000000000"
    d = door(
        tokens={bot: {"name": "bot-b", "consumer_id": ACCOUNTING_ONLY}}, settings={"connections_ttl": 0.2}
    )
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    with anyio.fail_after(TIMEOUT):
        async with (
            serving(d.app) as base,
            mcp_client(base + "/mcp", bot, message_handler=on_message) as client,
        ):
            before = {t.name for t in (await client.list_tools()).tools}
            await d.runtime.client.request(
                "POST",
                f"/consumers/{ACCOUNTING_ONLY}/connections",
                json={
                    "integrationid": 2004,
                    "name": "Lightspeed",
                    "credentials": [{"key": "k", "value": "v"}],
                },
            )
            await anyio.sleep(0.3)  # past the TTL: this call refreshes the consumer's connections
            await client.call_tool("accounting_get_clients", {"limit": 1})
            await changed.wait()
            after = {t.name for t in (await client.list_tools()).tools}
    assert not any(n.startswith("pos_") for n in before) and "pos_get_orders" in after
