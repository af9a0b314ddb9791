"""The real ``chift-mcp http`` processes, a few smoke tests (marked slow): two ``--stateless`` replicas
behind a round-robin client (a load balancer in miniature) and graceful shutdown on SIGTERM. The sandbox
Chift API runs as its own process on loopback, shared by the replicas. What needs no process of its own
(stateful replicas without affinity, start-up refusals) is tested in process elsewhere."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from support.http import DEMO, TIMEOUT, RoundRobin, http_servers, payload
from support.processes import SandboxAdmin, running_sandbox, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TOKEN = "cmcp_scale_out_token_0000000000000000000"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


async def alternate(urls: list[str], calls: int, mode: str = "legacy") -> tuple[list[bool], RoundRobin]:
    ports = [httpx2.URL(u).port or 80 for u in urls]
    balancer = RoundRobin(ports)
    ok: list[bool] = []
    async with (
        httpx2.AsyncClient(
            transport=balancer, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT
        ) as http,
        Client(streamable_http_client(urls[0] + "/mcp", http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        tools = (await client.list_tools()).tools
        assert any(t.name == "accounting_get_clients" for t in tools)
        for i in range(calls):
            result = await client.call_tool(
                "accounting_get_clients", {"consumer_id": DEMO, "limit": 1 + i % 3}
            )
            ok.append(not result.is_error and len(payload(result)["items"]) == 1 + i % 3)
    return ok, balancer


def served_calls(log: str) -> int:
    return sum("mcp=tools/call" in line and "result=ok" in line for line in log.splitlines())


async def test_stateless_replicas_answer_any_request(sandbox_url: str, tmp_path: Path) -> None:
    env = server_env(sandbox_url, CHIFT_MCP_TOKEN=TOKEN)
    with http_servers(env, "http", "--stateless", count=2, log_dir=tmp_path) as servers:
        with anyio.fail_after(TIMEOUT):
            legacy, balancer = await alternate([s.url for s in servers], calls=20)
            modern, _ = await alternate([s.url for s in servers], calls=10, mode="auto")
    logs = [s.log() for s in servers]  # stopped: every request's line is written
    assert legacy == [True] * 20 and modern == [True] * 10
    assert min(balancer.sent.values()) >= 10  # both replicas took their share of requests
    per_replica = [served_calls(log) for log in logs]
    assert sum(per_replica) == 30 and min(per_replica) >= 10, per_replica


async def test_sigterm_lets_the_call_in_flight_finish_then_exits(sandbox_url: str, tmp_path: Path) -> None:
    admin = SandboxAdmin(sandbox_url)
    admin.reset()
    admin.fault(match="accounting_get_clients", kind="latency", latency=1.5)
    env = server_env(sandbox_url, CHIFT_MCP_TOKEN=TOKEN)
    result: Any = None
    try:
        with http_servers(env, "http", log_dir=tmp_path) as (server,):
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT) as http,
                Client(
                    streamable_http_client(server.url + "/mcp", http_client=http), mode="legacy"
                ) as client,  # type: ignore[arg-type]
            ):
                await client.list_tools()  # the SDK's client lists before its first call: not mid-drain

                async def call() -> None:
                    nonlocal result
                    result = await client.call_tool(
                        "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
                    )

                with anyio.fail_after(TIMEOUT):
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(call)
                        while admin.http.get("/_sandbox/faults").json():  # taken: the call is in flight
                            await anyio.sleep(0.02)
                        server.proc.send_signal(signal.SIGTERM)
                        while (await http.get(server.url + "/readyz")).status_code != 503:
                            await anyio.sleep(0.02)  # draining: the load balancer is told to stop
                        assert result is None  # ... while the call is still in flight
                    code = await anyio.to_thread.run_sync(lambda: server.proc.wait(TIMEOUT))
            log = server.log()
    finally:
        admin.clear()
        admin.close()
    assert result is not None and not result.is_error and len(payload(result)["items"]) == 1
    assert code in (0, -signal.SIGTERM), code
    assert "shutting down" in log and "Traceback" not in log
