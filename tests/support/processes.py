"""Real processes: the sandbox Chift API (``chift-mcp sandbox``) on a loopback port, ``chift-mcp``
over stdio for the MCP SDK's client, and :class:`SandboxAdmin` scripting that sandbox over its admin
endpoints. Only the slow smoke tests use these; the others talk to the server in memory
(:mod:`support.inproc`)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
from mcp.client.stdio import StdioServerParameters

from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_sandbox() -> Iterator[str]:
    """``chift-mcp sandbox`` in a subprocess; yields its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chift_mcp", "sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"sandbox exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            try:
                httpx2.get(f"{url}/_sandbox/stats", timeout=1)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    env.update(
        CHIFT_URL_BASE=url,
        CHIFT_CLIENT_ID=SANDBOX_CLIENT_ID,
        CHIFT_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
        CHIFT_ACCOUNT_ID=SANDBOX_ACCOUNT_ID,
        CHIFT_TIMEOUT="5",
    )
    env.update(extra)
    return env


def stdio_params(url: str, *args: str, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "chift_mcp", *args], env=server_env(url, **extra)
    )


def sandbox_token(http: httpx2.Client) -> str:
    """A bearer token from the sandbox's ``POST /token`` with the demo credentials."""
    answer = http.post(
        "/token",
        json={
            "clientId": SANDBOX_CLIENT_ID,
            "clientSecret": SANDBOX_CLIENT_SECRET,
            "accountId": SANDBOX_ACCOUNT_ID,
        },
    )
    return str(answer.raise_for_status().json()["access_token"])


class SandboxAdmin:
    """Scripts the sandbox over its admin endpoints."""

    def __init__(self, url: str) -> None:
        self.http = httpx2.Client(base_url=url, timeout=5)

    def fault(self, **fault: Any) -> None:
        self.http.post("/_sandbox/faults", json=fault).raise_for_status()

    def clear(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def revoke(self) -> None:
        self.http.post("/_sandbox/revoke").raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        data = self.http.get("/_sandbox/requests").json()
        return data["requests"] if isinstance(data, dict) else data

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/stats").json())

    def connect(self, consumer_id: str, integrationid: int, name: str) -> str:
        """Add an active connection to a consumer through the sandbox's own Chift API."""
        token = sandbox_token(self.http)
        answer = self.http.post(
            f"/consumers/{consumer_id}/connections",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "integrationid": integrationid,
                "name": name,
                "credentials": [{"key": "api_key", "value": "x"}],
            },
        )
        answer.raise_for_status()
        return str(answer.json()["url"])

    def close(self) -> None:
        self.http.close()
