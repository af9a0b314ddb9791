"""Processes and clients for the adversarial tests (``tests/adversarial/``) and the soak bench
(``bench/adversarial.py``), on loopback: the sandbox Chift API and ``chift-mcp -vv http`` as child
processes, a TCP proxy that notes the Chift access tokens a server sends, the sandbox's admin API, and
a plain httpx2 JSON-RPC client (:class:`Mcp`) whose :class:`Reply` says what kind of answer came."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from support.processes import free_port, server_env

ROOT = Path(__file__).resolve().parents[2]

DEMO = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
INACTIVE = "33333333-3333-4333-8333-333333333333"
PROTOCOL = "2025-11-25"
# The server's own background requests (its token, a bound consumer's connections): not "sent for a call".
BACKGROUND_OPS = frozenset({"generate_access_token_token_post", "connections_get_connections"})
NOTHING_SENT = frozenset({"RATE_LIMITED", "INVALID_ARGUMENTS", "OUT_OF_SCOPE"})
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
HAS_MONTY = importlib.util.find_spec("pydantic_monty") is not None



def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


class Proc:
    """One child process on a loopback port, its stderr in a file (appended to across restarts)."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], port: int, health: str, logs: Path
    ) -> None:
        self.name, self.cmd, self.env, self.port, self.health = name, cmd, env, port, health
        self.log = logs / f"{name}.stderr.log"
        self.cwd = logs  # no .env of the checkout is read
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    async def start(self, timeout: float = 40) -> None:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=err
            )
        deadline = time.monotonic() + timeout
        async with httpx2.AsyncClient(timeout=1) as http:
            while True:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {tail}")
                try:
                    if (await http.get(self.url + self.health)).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s")
                await asyncio.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def sandbox_proc(logs: Path, name: str = "sandbox", client_secret: str | None = None) -> Proc:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    if client_secret is None:
        cmd = [sys.executable, "-m", "chift_mcp", "sandbox", "--port", str(port)]
    else:  # the same sandbox with another client secret (no CLI flag for it)
        env["ADV_SANDBOX_SECRET"] = client_secret
        code = (
            "import os, sys; from chift_mcp.sandbox import SandboxConfig, run; "
            "run(port=int(sys.argv[1]), config=SandboxConfig(client_secret=os.environ['ADV_SANDBOX_SECRET']))"
        )
        cmd = [sys.executable, "-c", code, str(port)]
    return Proc(name, cmd, env, port, "/_sandbox/health", logs)


def server_proc(logs: Path, name: str, chift_url: str, extra_env: dict[str, str], flags: list[str]) -> Proc:
    port = free_port()
    env = server_env(chift_url, **extra_env)
    cmd = [sys.executable, "-m", "chift_mcp", "-vv", "http", "--port", str(port), *flags]
    return Proc(name, cmd, env, port, "/healthz", logs)


class SniffingProxy:
    """A TCP proxy in front of a sandbox that notes every bearer token a server sends to Chift (the
    servers' access tokens are otherwise known only to them and the sandbox)."""

    BEARER = re.compile(rb"\r\nauthorization:[ \t]*bearer[ \t]+([^\r\n]+)\r\n", re.IGNORECASE)

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.tokens: set[str] = set()
        self.last: str | None = None  # the bearer of the latest request sent
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        with contextlib.suppress(asyncio.CancelledError):  # the loop closing at the end of the run
            await asyncio.gather(
                self._pump(reader, up_writer, sniff=True),
                self._pump(up_reader, writer, sniff=False),
                return_exceptions=True,
            )

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, sniff: bool) -> None:
        tail = b""
        try:
            while data := await src.read(65536):
                if sniff:
                    window = tail + data
                    for m in self.BEARER.finditer(window):
                        self.last = m.group(1).strip().decode("latin-1")
                        self.tokens.add(self.last)
                    tail = window[-8192:]
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()


class Admin:
    """The sandbox's admin routes, asynchronously."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx2.AsyncClient(base_url=url, timeout=10)

    async def fault(self, **fault: Any) -> None:
        (await self.http.post("/_sandbox/faults", json=fault)).raise_for_status()

    async def pending(self) -> list[dict[str, Any]]:
        return list((await self.http.get("/_sandbox/faults")).json())

    async def clear(self) -> None:
        (await self.http.delete("/_sandbox/faults")).raise_for_status()

    async def revoke(self) -> None:
        (await self.http.post("/_sandbox/revoke")).raise_for_status()

    async def stats(self) -> dict[str, Any]:
        return dict((await self.http.get("/_sandbox/stats")).json())

    async def mark(self) -> int:
        return int((await self.stats())["requests"])

    async def since(self, mark: int, *, everything: bool = False) -> list[dict[str, Any]]:
        """The requests logged since ``mark`` (the server's background requests left out)."""
        now = await self.mark()
        if now <= mark:
            return []
        entries = list((await self.http.get("/_sandbox/requests", params={"limit": now - mark})).json())
        return entries if everything else [e for e in entries if e.get("operation_id") not in BACKGROUND_OPS]

    async def transactions(self) -> list[dict[str, Any]]:
        return list((await self.http.get("/_sandbox/transactions")).json())

    async def token(self, client_secret: str = SANDBOX_CLIENT_SECRET) -> str:
        body = {"clientId": SANDBOX_CLIENT_ID, "clientSecret": client_secret, "accountId": SANDBOX_ACCOUNT_ID}
        return str((await self.http.post("/token", json=body)).raise_for_status().json()["access_token"])

    async def listing(self, path: str, token: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page by page, straight from the sandbox."""
        items: list[dict[str, Any]] = []
        for page in itertools.count(1):
            resp = await self.http.get(
                path, params={"page": page, "size": 100}, headers={"Authorization": f"Bearer {token}"}
            )
            data = resp.raise_for_status().json()
            items.extend(data["items"])
            if len(data["items"]) < 100 or len(items) >= data["total"]:
                return items
        return items

    async def aclose(self) -> None:
        await self.http.aclose()


# --------------------------------------------------------------------------- the MCP client


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (transport error)
    headers: dict[str, str]
    text: str
    message: dict[str, Any] | None = None  # the JSON-RPC answer, when there is one
    transport: str | None = None

    @property
    def error(self) -> dict[str, Any] | None:
        return self.message.get("error") if self.message else None

    @property
    def result(self) -> dict[str, Any] | None:
        return self.message.get("result") if self.message else None

    @property
    def payload(self) -> dict[str, Any]:
        result = self.result or {}
        structured = result.get("structuredContent")
        if isinstance(structured, dict):
            return structured
        try:
            data = json.loads(result["content"][0]["text"])
            return data if isinstance(data, dict) else {"value": data}
        except (KeyError, IndexError, TypeError, ValueError):
            return {}

    @property
    def kind(self) -> str:
        """http:<status>, transport:<error>, rpc:<code>, tool:<error code>, ok, or http:202:no answer."""
        if self.transport:
            return f"transport:{self.transport}"
        if self.status not in (200, 202):
            return f"http:{self.status}"
        if self.error is not None:
            return f"rpc:{self.error.get('code')}"
        if self.result is not None:
            return f"tool:{self.payload.get('error')}" if self.result.get("isError") else "ok"
        return f"http:{self.status}:no answer"

    def sane(self) -> str | None:
        """What no answer may be: a traceback, JSON-RPC code 0, a 5xx."""
        if TRACEBACK.search(self.text):
            return "a traceback in the answer"
        if self.error is not None and self.error.get("code") in (0, None):
            return "JSON-RPC error code 0"
        if self.status >= 500:
            return f"HTTP {self.status}"
        return None


def parse_message(text: str, content_type: str, want: Any) -> dict[str, Any] | None:
    candidates: list[Any] = []
    if "text/event-stream" in content_type:
        for line in text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                with contextlib.suppress(ValueError):
                    candidates.append(json.loads(line[5:]))
    else:
        with contextlib.suppress(ValueError):
            candidates.append(json.loads(text))
    for data in candidates:
        is_answer = isinstance(data, dict) and "jsonrpc" in data and ("result" in data or "error" in data)
        if is_answer and (want is None or data.get("id") in (want, None)):
            return dict(data)
    return None


class Mcp:
    """A minimal streamable-HTTP MCP client on httpx2: JSON-RPC as data or as raw text."""

    def __init__(
        self, http: httpx2.AsyncClient, url: str, token: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.http, self.url, self.token = http, url, token
        self.extra = dict(headers or {})
        self.session: str | None = None
        self.ids = itertools.count(1)

    def headers(self, **override: str | None) -> dict[str, str]:
        out = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        out.update(self.extra)
        if self.session:
            out["Mcp-Session-Id"] = self.session
            out["Mcp-Protocol-Version"] = PROTOCOL
        for key, value in override.items():
            key = key.replace("_", "-")
            out.pop(key, None)
            if value is not None:
                out[key] = value
        return out

    async def post(self, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> Reply:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        want = None if isinstance(body, bytes) else body.get("id")
        try:
            resp = await self.http.post(self.url, content=content, headers=headers or self.headers())
        except httpx2.HTTPError as exc:
            return Reply(0, {}, "", transport=type(exc).__name__)
        ct = resp.headers.get("content-type", "")
        return Reply(resp.status_code, dict(resp.headers), resp.text, parse_message(resp.text, ct, want))

    async def open(self) -> Reply:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "adversarial", "version": "1"},
            },
        }
        self.session = None
        reply = await self.post(init)
        if reply.status == 200 and reply.result is not None:
            self.session = reply.headers.get("mcp-session-id")
            note = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
            if note.status != 202:
                return note
        return reply

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self.ids), "method": method}
        if params is not None:
            body["params"] = params
        return body

    async def call(self, name: str, arguments: Any, headers: dict[str, str] | None = None) -> Reply:
        return await self.post(self.request("tools/call", {"name": name, "arguments": arguments}), headers)

    async def raw_call(self, name: str, arguments_json: str) -> Reply:
        """A tools/call whose arguments are JSON text as given (NaN, Infinity, 1e400 stay as written)."""
        rid = next(self.ids)
        text = (
            f'{{"jsonrpc":"2.0","id":{rid},"method":"tools/call",'
            f'"params":{{"name":{json.dumps(name)},"arguments":{arguments_json}}}}}'
        )
        reply = await self.post(text.encode())
        return reply

    async def close(self) -> None:
        if self.session:
            with contextlib.suppress(httpx2.HTTPError):
                await self.http.delete(self.url, headers=self.headers())
            self.session = None


async def raw_http(port: int, head: list[str], body: bytes = b"") -> Reply:
    """One HTTP/1.1 request written by hand (repeated headers, foreign or missing Host)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [*head, f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1") + body)
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(-1), 15)
    finally:
        writer.close()
    head_raw, _, rest = data.partition(b"\r\n\r\n")
    first, *header_lines = head_raw.decode("latin-1").split("\r\n")
    status = int(first.split()[1]) if len(first.split()) > 1 else 0
    headers = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    text = rest.decode("utf-8", "replace")
    return Reply(status, headers, text, parse_message(text, headers.get("content-type", ""), None))
