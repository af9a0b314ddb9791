"""The server through the protocol, in process: an MCP client session over the SDK's in-memory
transport to ``Runtime.open(Settings(...), sandbox=True).server()``, whose Chift client talks to the
in-process sandbox Chift API over httpx2's ASGI transport. No process, no port.

    async with mcp_session(consumer_id=ACCOUNTING_ONLY) as s:
        s.sandbox.faults.add(match="accounting_get_clients", kind="status", status=503)
        result = await s.client.call_tool("accounting_get_clients", {"limit": 1})
        assert s.requests("/accounting/")

``loopback=True`` serves the sandbox app on a loopback port instead (uvicorn in the test's event loop):
the client's timeouts only fire on a real socket. ``clock`` replaces the live access's clock
(``ConsumerAccess(clock=...)``), so a test moves past the connections TTL without sleeping.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp.client import Client

from chift_mcp.app import SANDBOX_URL, Runtime
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from support import TIMEOUT


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Session:
    """A connected client, the runtime behind the server, and the sandbox Chift API it talks to."""

    client: Client
    runtime: Runtime
    sandbox_app: Any  # the Starlette app
    url: str  # the Chift base URL the runtime's client uses

    @property
    def sandbox(self) -> Any:
        """The sandbox's live state (``chift_mcp.sandbox.state.SandboxState``): faults, log, stats."""
        return self.sandbox_app.state.sandbox

    def requests(self, path_part: str = "") -> list[dict[str, Any]]:
        """The requests the sandbox answered (oldest first), those whose path contains ``path_part``."""
        return [r for r in self.sandbox.log if path_part in r["path"]]

    async def connect(self, consumer_id: str, integrationid: int, name: str) -> str:
        """Add an active connection to a consumer through the sandbox's own Chift API."""
        transport = httpx2.ASGITransport(app=self.sandbox_app)
        async with httpx2.AsyncClient(transport=transport, base_url=SANDBOX_URL) as http:
            token = await http.post(
                "/token",
                json={
                    "clientId": SANDBOX_CLIENT_ID,
                    "clientSecret": SANDBOX_CLIENT_SECRET,
                    "accountId": SANDBOX_ACCOUNT_ID,
                },
            )
            answer = await http.post(
                f"/consumers/{consumer_id}/connections",
                headers={"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"},
                json={
                    "integrationid": integrationid,
                    "name": name,
                    "credentials": [{"key": "api_key", "value": "x"}],
                },
            )
        return str(answer.raise_for_status().json()["url"])


@asynccontextmanager
async def mcp_session(
    *,
    mode: str = "legacy",
    message_handler: Any = None,
    loopback: bool = False,
    clock: ManualClock | None = None,
    **settings: Any,
) -> AsyncIterator[Session]:
    """A client session to a server built from ``Settings(**settings)`` over a fresh sandbox, as the
    stdio door builds it. ``mode``: ``"legacy"`` (initialize handshake) or a modern protocol version."""
    if loopback:
        from chift_mcp.sandbox import build_app

        app = build_app()
        async with serving(app) as url:
            credentials = {
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SANDBOX_CLIENT_SECRET,
                "account_id": SANDBOX_ACCOUNT_ID,
            }
            runtime = Runtime.open(Settings(url_base=url, **credentials, **settings))
            async with _connected(runtime, app, url, mode, message_handler, clock) as session:
                yield session
        return
    runtime = Runtime.open(Settings(**settings), sandbox=True)
    async with _connected(runtime, runtime.sandbox_app, SANDBOX_URL, mode, message_handler, clock) as session:
        yield session


@asynccontextmanager
async def _connected(
    runtime: Runtime, app: Any, url: str, mode: str, message_handler: Any, clock: ManualClock | None
) -> AsyncIterator[Session]:
    if clock is not None:
        runtime.access.clock = clock
    server = runtime.server()
    runtime.start()
    try:
        async with Client(server, mode=mode, message_handler=message_handler) as client:
            yield Session(client, runtime, app, url)
    finally:
        await runtime.aclose()


@asynccontextmanager
async def serving(app: Any, *, lifespan: str = "off", graceful: bool = False) -> AsyncIterator[str]:
    """Serve ``app`` on a loopback port in this event loop; yields its base URL. On the way out,
    requests still running (a latency fault) are cancelled rather than waited for, unless
    ``graceful``; ``lifespan="on"`` runs the app's start-up and shut-down (the HTTP door's)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    extra: dict[str, Any] = {} if graceful else {"timeout_graceful_shutdown": 0}
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False, **extra)
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(TIMEOUT):
                while not server.started:
                    await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()
