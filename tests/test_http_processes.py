"""The real ``chift-mcp http`` processes: two ``--stateless`` replicas behind a round-robin client (a
load balancer in miniature), graceful shutdown on SIGTERM, and start-up refusals. The sandbox Chift
API runs as its own process on loopback, shared by the replicas."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from http_helpers import DEMO, TIMEOUT, http_servers, payload
from integration_helpers import SandboxAdmin, running_sandbox, server_env
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.anyio
TOKEN = "cmcp_scale_out_token_0000000000000000000"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each HTTP request to the next replica in turn, as a load balancer without affinity would."""

    def __init__(self, ports: list[int]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.ports = ports
        self.sent: Counter[int] = Counter()
        self._next = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[self._next % len(self.ports)]
        self._next += 1
        self.sent[port] += 1
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


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


async def test_stateful_replicas_without_affinity_fail_which_is_why_stateless_exists(
    sandbox_url: str, tmp_path: Path
) -> None:
    env = server_env(sandbox_url, CHIFT_MCP_TOKEN=TOKEN)
    with (
        http_servers(env, "http", count=2, log_dir=tmp_path) as servers,
        anyio.fail_after(TIMEOUT),
        pytest.raises(BaseException),  # noqa: B017 - any failure will do
    ):
        await alternate([s.url for s in servers], calls=4)
    logs = "".join(s.log() for s in servers)
    assert " 404 " in logs  # "session not found" on the replica that did not open it


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


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["http"], {}, "needs bearer tokens"),
        (["http", "--host", "0.0.0.0", "--auth", "none"], {}, "refused on the non-loopback address"),
        (["http"], {"CHIFT_MCP_TOKEN": "too-short"}, "too short"),
        (["http"], {"CHIFT_MCP_TOKENS_FILE": "/nonexistent/tokens.json"}, "cannot be read"),
    ],
)
def test_start_up_refusals_are_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    full = server_env("http://127.0.0.1:9", **env)
    proc = subprocess.run(
        [sys.executable, "-m", "chift_mcp", "--sandbox", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1
