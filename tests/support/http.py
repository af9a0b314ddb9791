"""Helpers for the HTTP door's tests: build the door over the in-process sandbox, talk to it in process
(``asgi_client``: httpx2's ASGI transport, the app's lifespan running, no port; answers arrive whole, so
not for streams that stay open) or on a loopback port (``serving``: uvicorn in the test's event loop),
and connect the MCP SDK's client with headers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from chift_mcp.app import Runtime
from chift_mcp.doors.http.app import HttpDoor, HttpOptions, build_app
from chift_mcp.doors.http.tokens import TokenTable, hash_token
from chift_mcp.settings import Settings
from support.inproc import serving as serve_on_loopback

DEMO = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_ONLY = "22222222-2222-4222-8222-222222222222"
TIMEOUT = 30


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` (the HTTP door, lifespan included) on a loopback port in this event loop; yields
    its base URL."""
    async with serve_on_loopback(app, lifespan="on", graceful=True) as url:
        yield url


@asynccontextmanager
async def asgi_client(app: Any, **kw: Any) -> AsyncIterator[httpx2.AsyncClient]:
    """An httpx2 client on ``app`` in process (its lifespan entered), based at http://127.0.0.1:8000."""
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000", timeout=TIMEOUT, **kw
        ) as http,
    ):
        yield http


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


def door(
    *,
    tokens: dict[str, dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    sandbox: bool = True,
    passthrough: bool = False,
    runtime: Runtime | None = None,
    **options: Any,
) -> HttpDoor:
    """The HTTP door over a fresh runtime on the in-process sandbox (or ``runtime``). ``tokens`` maps a
    token to its entry (name, consumer_id, function_config, read_only), hashed as in a tokens file."""
    from chift_mcp.doors.http.tokens import parse_entry

    config = Settings(**(settings or {}))
    if runtime is None:
        runtime = Runtime.open(config, sandbox=sandbox, passthrough=passthrough)
    table = None
    if tokens is not None:
        table = TokenTable(
            [parse_entry({**entry, "token_sha256": hash_token(token)}) for token, entry in tokens.items()]
        )
    return build_app(runtime, HttpOptions.from_settings(config, **options), table, sandbox=sandbox)


@asynccontextmanager
async def mcp_client(
    url: str,
    token: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    mode: str = "legacy",
    message_handler: Any = None,
) -> AsyncIterator[Client]:
    """The SDK's client on ``url`` (the MCP endpoint) with a bearer token and extra headers."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with (
        create_mcp_http_client(headers=all_headers) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,  # type: ignore[arg-type]
            message_handler=message_handler,
        ) as client,
    ):
        yield client


def payload(result: Any) -> Any:
    return json.loads(result.content[0].text)


class HttpServerProcess:
    """``chift-mcp [args] http --port P`` in a subprocess, stderr in a file (its request log)."""

    def __init__(self, env: dict[str, str], *args: str, log_dir: Path) -> None:
        sock = bound_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
        full_env.update(env)
        self.log_path = log_dir / f"http-{self.port}.log"
        self._log = self.log_path.open("wb")
        argv = [sys.executable, "-m", "chift_mcp", *args, "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=self._log)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chift-mcp http exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chift-mcp http did not answer /healthz")
            time.sleep(0.05)

    def log(self) -> str:
        """What the server wrote so far (a request's line comes just after its response: read it after
        ``stop()`` to be sure to have every line)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


@contextmanager
def http_servers(
    env: dict[str, str], *args: str, count: int = 1, log_dir: Path
) -> Iterator[list[HttpServerProcess]]:
    """``count`` server processes started together; yields them once all answer /healthz."""
    servers = [HttpServerProcess(env, *args, log_dir=log_dir) for _ in range(count)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
