"""Rate limits per token (in process, then shared by two real replicas through a real Redis) and the
cap on concurrent Chift requests per consumer."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from support.http import DEMO, TIMEOUT, RoundRobin, asgi_client, bound_socket, door, http_servers
from support.processes import running_sandbox, server_env

from chift_mcp.doors.http.tokens import hash_token, parse_entry
from chift_mcp.doors.limits import CallLimits, ConsumerGate, storage_uri
from chift_mcp.errors import ConfigError

pytestmark = pytest.mark.anyio

LIMITED = "cmcp_limited_token_00000000000000000000000"
FREE = "cmcp_free_token_000000000000000000000000000"
MCP = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def call(http: httpx2.AsyncClient, token: str, n: int) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 1}},
    }
    resp = await http.post("/mcp", json=body, headers={**MCP, "Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["result"])


def upstream_calls(d: Any) -> int:
    return sum(e["operation_id"] == "accounting_get_clients" for e in d.runtime.sandbox_app.state.sandbox.log)


async def test_a_token_over_its_rate_limit_gets_rate_limited_with_retry_after_and_nothing_reaches_chift() -> (
    None
):
    tokens = {LIMITED: {"name": "bot", "rate_limit": 3}, FREE: {"name": "free"}}
    d = door(tokens=tokens, stateless=True, json_response=True)
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            limited = [await call(http, LIMITED, i) for i in range(5)]
            free = [await call(http, FREE, i) for i in range(6)]
    assert [r["isError"] for r in limited] == [False, False, False, True, True]
    refused = limited[3]["structuredContent"]
    assert refused["error"] == "RATE_LIMITED" and refused["retryable"] is True
    assert 1 <= refused["retry_after"] <= 60 and "3 tool calls per minute" in refused["message"]
    assert not any(r["isError"] for r in free)  # no rate_limit and no CHIFT_MCP_RATE_LIMIT: no limit
    assert upstream_calls(d) == 3 + 6


async def test_the_default_rate_limit_applies_to_tokens_without_their_own() -> None:
    tokens = {LIMITED: {"name": "bot", "rate_limit": 3}, FREE: {"name": "free"}}
    d = door(tokens=tokens, stateless=True, json_response=True, settings={"mcp_rate_limit": 2})
    async with asgi_client(d.app) as http:
        free = [await call(http, FREE, i) for i in range(3)]
        limited = [await call(http, LIMITED, i) for i in range(4)]
    assert [r["isError"] for r in free] == [False, False, True]
    assert [r["isError"] for r in limited] == [False, False, False, True]  # its own limit, not the default


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_a_token_rate_limit_is_a_whole_positive_number(value: Any) -> None:
    with pytest.raises(ConfigError, match="rate_limit must be a whole number"):
        parse_entry({"name": "x", "token_sha256": hash_token("t" * 30), "rate_limit": value})


def test_the_storage_setting_names_redis_or_nothing() -> None:
    assert storage_uri(None) == "memory://"
    assert storage_uri("redis://10.0.0.1:6379/2") == "async+redis://10.0.0.1:6379/2"
    assert storage_uri("rediss://cache:6380") == "async+rediss://cache:6380"
    with pytest.raises(ConfigError, match="CHIFT_RATE_LIMIT_STORAGE"):
        storage_uri("memcached://x")


async def test_a_storage_that_does_not_answer_lets_calls_through_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limits = CallLimits(1, storage_uri(f"redis://127.0.0.1:{port}"))
    with anyio.fail_after(TIMEOUT):
        assert await limits.check_storage() is False
        assert [await limits.admit("bot", None) for _ in range(3)] == [None, None, None]
    assert "calls go through unlimited" in caplog.text and "the call goes through" in caplog.text


async def test_concurrent_chift_requests_are_capped_per_consumer() -> None:
    class Slow:
        def __init__(self) -> None:
            self.now: dict[str, int] = {}
            self.most: dict[str, int] = {}

        async def request(self, method: str, path: str, **kw: Any) -> Any:
            who = path.split("/")[2] if path.startswith("/consumers/") else ""
            self.now[who] = self.now.get(who, 0) + 1
            self.most[who] = max(self.most.get(who, 0), self.now[who])
            await anyio.sleep(0.02)
            self.now[who] -= 1
            return {"path": path}

    inner = Slow()
    gate = ConsumerGate(inner, per_consumer=2)
    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(gate.request, "GET", f"/consumers/a/accounting/clients?{i}")
            tg.start_soon(gate.request, "GET", "/consumers/b%2F/accounting/clients")
        tg.start_soon(gate.request, "GET", "/consumers")
        await anyio.sleep(0.005)
        assert gate.in_flight() == {"a": 10, "b/": 10, "": 1}
    assert inner.most == {"a": 2, "b%2F": 2, "": 1}
    assert gate.in_flight() == {}  # nothing kept once done


# ------------------------------------------------------------------ two replicas, one Redis


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run does)")
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
async def test_two_stateless_replicas_share_one_tokens_limit_through_redis(
    redis_url: str, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"name": "shared", "token_sha256": hash_token(LIMITED), "rate_limit": 5}]))
    with running_sandbox() as sandbox:
        env = server_env(sandbox, CHIFT_MCP_TOKENS_FILE=str(tokens), CHIFT_RATE_LIMIT_STORAGE=redis_url)
        with http_servers(env, "http", "--stateless", count=2, log_dir=tmp_path) as servers:
            balancer = RoundRobin([httpx2.URL(s.url).port or 80 for s in servers])
            with anyio.fail_after(TIMEOUT):
                async with (
                    httpx2.AsyncClient(
                        transport=balancer, headers={"Authorization": f"Bearer {LIMITED}"}
                    ) as http,
                    Client(
                        streamable_http_client(servers[0].url + "/mcp", http_client=http), mode="legacy"
                    ) as c,
                ):
                    results = [
                        await c.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
                        for _ in range(8)
                    ]
    errors = [r.structured_content.get("error") if r.is_error else None for r in results]
    assert errors == [None] * 5 + ["RATE_LIMITED"] * 3  # 5 for the pair, not 5 each
    assert min(balancer.sent.values()) >= 4  # both replicas answered calls
