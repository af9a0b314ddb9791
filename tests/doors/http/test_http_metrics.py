"""``/metrics``: Prometheus text without a token, counting tool calls, Chift requests, rate limits and
sessions, and holding no secret. In process (httpx2's ASGI transport)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.http import DEMO, TIMEOUT, asgi_client, door

pytestmark = pytest.mark.anyio

BOT = "cmcp_metrics_bot_token_00000000000000000000"
READER = "cmcp_metrics_reader_token_000000000000000000"
TOKENS: dict[str, dict[str, Any]] = {
    BOT: {"name": "bot", "rate_limit": 3},
    READER: {"name": "reader", "read_only": True},
}
MCP = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def rpc(http: Any, token: str, method: str, params: dict[str, Any], headers: Any = None) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    resp = await http.post(
        "/mcp", json=body, headers={**MCP, "Authorization": f"Bearer {token}", **(headers or {})}
    )
    return resp


async def test_metrics_count_calls_outcomes_chift_requests_and_rate_limits_without_a_token() -> None:
    d = door(tokens=TOKENS, json_response=True)
    get = {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 1}}
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            init = {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            }
            opened = await rpc(http, READER, "initialize", init)
            session = {
                "Mcp-Session-Id": opened.headers["mcp-session-id"],
                "Mcp-Protocol-Version": "2025-06-18",
            }
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await http.post(
                "/mcp", json=note, headers={**MCP, "Authorization": f"Bearer {READER}", **session}
            )
            for _ in range(2):
                await rpc(http, READER, "tools/call", get, session)
            await rpc(
                http, READER, "tools/call", {"name": "accounting_create_client", "arguments": {}}, session
            )
            missing = {
                "name": "accounting_get_client",
                "arguments": {"consumer_id": DEMO, "client_id": "nope"},
            }
            await rpc(http, READER, "tools/call", missing, session)
            await rpc(http, READER, "tools/call", {"name": "no_such_tool", "arguments": {}}, session)
            bot = await rpc(http, BOT, "initialize", init)
            bot_session = {
                "Mcp-Session-Id": bot.headers["mcp-session-id"],
                "Mcp-Protocol-Version": "2025-06-18",
            }
            await http.post(
                "/mcp", json=note, headers={**MCP, "Authorization": f"Bearer {BOT}", **bot_session}
            )
            for _ in range(4):
                await rpc(http, BOT, "tools/call", get, bot_session)
            resp = await http.get("/metrics")  # no token
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    got = samples(resp.text)
    calls = "chift_mcp_tool_calls_total"
    assert got[(calls, (("outcome", "ok"), ("tool", "accounting_get_clients")))] == 5
    assert got[(calls, (("outcome", "tool_error"), ("tool", "accounting_create_client")))] == 1
    assert got[(calls, (("outcome", "tool_error"), ("tool", "accounting_get_client")))] == 1
    assert got[(calls, (("outcome", "rate_limited"), ("tool", "accounting_get_clients")))] == 1
    assert got[(calls, (("outcome", "rpc_error"), ("tool", "unknown")))] == 1
    assert got[("chift_mcp_rate_limited_total", (("caller", "bot"),))] == 1
    upstream = {labels: v for (name, labels), v in got.items() if name == "chift_mcp_upstream_requests_total"}
    assert upstream[(("status", "2xx"),)] >= 5 and upstream[(("status", "404"),)] == 1
    count = got[("chift_mcp_upstream_request_duration_seconds_count", ())]
    assert count == sum(upstream.values())
    assert got[("chift_mcp_tool_calls_in_flight", ())] == 0
    assert got[("chift_mcp_sessions", ())] == 2
    for secret in (BOT, READER, "sandbox-secret", DEMO, "nope"):
        assert secret not in resp.text


async def test_metrics_answer_on_any_host_like_the_health_checks() -> None:
    d = door(tokens=TOKENS, settings={"http_allowed_hosts": "mcp.example.com"}, host="0.0.0.0")
    async with asgi_client(d.app) as http:
        metrics = await http.get("/metrics", headers={"Host": "10.0.0.7:8000"})
        mcp = await http.post("/mcp", json={}, headers={**MCP, "Host": "10.0.0.7:8000"})
    assert metrics.status_code == 200 and mcp.status_code == 421
