"""A repeatable adversarial pass over the HTTP door, on loopback, against real processes.

    python bench/adversarial.py [--calls 2000] [--sessions 8] [--request-timeout 5] [--no-kill]
                                [--no-hard-secret] [--only 1,2,3,4,5] [--json-response] [--seed 1]
                                [--keep DIR] [--verbose]

Starts the sandbox Chift API (``chift-mcp sandbox --port P``) and ``chift-mcp -vv http`` processes
pointed at it (``CHIFT_URL_BASE`` and the sandbox's demo credentials, ``chift_mcp.settings.SANDBOX_*``)
through a small TCP proxy of this script's own that notes the Chift access tokens the servers send
(so that scenario 3 can script the sandbox to echo them), then drives them with plain httpx2 JSON-RPC
clients and raw sockets. The findings of an earlier pass, checked to stay fixed, and a few more:

1. scope escapes: a consumer-bound token naming another consumer (arguments, ``X-Chift-Consumer-Id``,
   path ids that climb out, discovery's call_operation, code mode's execute), a read-only token writing
   (direct, call_operation, execute), a narrowed function_config token calling outside it, a session id
   reused with another token, another session's SSE stream resumed with its Last-Event-ID. Expected:
   refused, and the sandbox's request log shows nothing sent.
2. bad inputs: a 70,000-character search, NaN / Infinity / 1e400 as raw JSON tokens, path ids with
   ``/``, ``\\``, ``..``, ``%2F``, ``%2e%2e`` (and stranger ones, which must at least reach the route asked
   for), CR/LF in a header argument, a body over the cap, repeated Host / Authorization / Origin /
   consumer headers and foreign Hosts (raw sockets), an unknown cursor, unknown tools, malformed
   JSON-RPC. Expected: a tool error naming the field, a 400/413/421 refusal or a JSON-RPC error
   (-32602, -32700), never code 0, a 5xx or a traceback, and nothing reaching the sandbox.
3. secrets: faults whose error_code and message echo the client secret and the access token in use
   (plain, JSON-escaped, URL-encoded, upper-cased...), in API-key mode (the /token answer included), in
   pass-through mode (the caller's bearer) and, unless ``--no-hard-secret``, with a second sandbox whose
   client secret holds ``/ " \\ é + % & = ? #`` so that those spellings differ. Expected: no spelling of
   any secret in any tool result, nor in any server's stderr at -vv (the MCP bearers are looked for too).
4. writes under faults: ``--calls`` mixed calls (creates of clients and invoices, reads) from
   ``--sessions`` concurrent sessions while faults keep being scripted (429 with Retry-After, 5xx,
   latency past ``CHIFT_HTTP_REQUEST_TIMEOUT``, lost answers, malformed JSON), and a kill -9 of the
   server at 40% then a restart on the same port (``--no-kill`` to skip). Each create carries a marker;
   afterwards every client and invoice in the sandbox is listed. Expected: no marker booked twice, no
   client request id processed twice, and every booked create that was not answered with its object
   answered with a tool error carrying the client_request_id that booked it (the calls cut by the
   kill -9 itself, which nothing can answer, are counted apart). Then creates cut off by the time limit
   another way: 32 at once queued behind the per-consumer cap while Chift is slow, and (code mode) two
   programs that create, then compute past the request timeout: each answered, a booked one reported.
5. rate limits: a token with rate_limit 30 sending 60 calls (reads and creates) at once: exactly 30
   allowed, 30 RATE_LIMITED with retry_after, and exactly 30 requests at the sandbox. (Noted, not
   counted: what a rate-limited code-mode token's programs send.)

Prints a table (attempts, as expected, unexpected, refused calls that reached Chift, duplicates, leaks),
what was observed without being counted, and one JSON line; exits 1 when anything was unexpected (the
processes' stderr is then kept, the directory named on stderr). About a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.processes import free_port, server_env  # noqa: E402

from chift_mcp.doors.http.tokens import hash_token  # noqa: E402
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET  # noqa: E402

DEMO = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
INACTIVE = "33333333-3333-4333-8333-333333333333"
PROTOCOL = "2025-11-25"
# The server's own background requests (its token, a bound consumer's connections): not "sent for a call".
BACKGROUND_OPS = frozenset({"generate_access_token_token_post", "connections_get_connections"})
NOTHING_SENT = frozenset({"RATE_LIMITED", "INVALID_ARGUMENTS", "OUT_OF_SCOPE"})
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
HAS_MONTY = importlib.util.find_spec("pydantic_monty") is not None

INVOICE = {
    "consumer_id": DEMO,
    "invoice_type": "customer_invoice",
    "currency": "EUR",
    "untaxed_amount": 100,
    "tax_amount": 21,
    "total": 121,
    "invoice_date": "2026-01-31",
    "due_date": "2026-02-28",
    "lines": [
        {
            "unit_price": 100,
            "quantity": 1,
            "untaxed_amount": 100,
            "tax_rate": 21,
            "tax_amount": 21,
            "total": 121,
            "account_number": "700000",
            "tax_code": "V21",
        }
    ],
}


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


# --------------------------------------------------------------------------- counting


@dataclass
class Tally:
    key: str
    title: str
    attempts: int = 0
    expected: int = 0
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0  # refused calls that nevertheless reached the sandbox
    duplicates: int | None = None
    leaks: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)

    def record(self, case: str, ok: bool, why: str = "", **detail: Any) -> bool:
        self.attempts += 1
        if ok:
            self.expected += 1
        else:
            self.unexpected.append({"case": case, "why": why, **detail})
        return ok

    def fail(self, case: str, why: str, **detail: Any) -> None:
        """Something wrong that is not one of the attempts (a control, a total)."""
        self.unexpected.append({"case": case, "why": why, **detail})

    def row(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "as_expected": self.expected,
            "unexpected": len(self.unexpected),
            "refused_but_sent": self.sent,
            "duplicates": self.duplicates,
            "leaks": self.leaks,
        }


def short(reply: Reply) -> str:
    if reply.message is not None:
        return json.dumps(reply.error or reply.payload)[:300]
    return (reply.transport or reply.text)[:300]


@dataclass
class Ctx:
    args: argparse.Namespace
    logs: Path
    http: httpx2.AsyncClient
    admin: Admin
    proxy: SniffingProxy
    tokens: dict[str, str]  # name -> bearer
    main: Proc
    proxy_url: str
    procs: list[Proc] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # label -> secret, looked for in every stderr
    rng: random.Random = field(default_factory=random.Random)

    def mcp(self, token: str | None, headers: dict[str, str] | None = None, proc: Proc | None = None) -> Mcp:
        return Mcp(self.http, (proc or self.main).url + "/mcp", token, headers)


async def attempt(
    ctx: Ctx,
    tally: Tally,
    case: str,
    send: Callable[[], Awaitable[Reply]],
    expect: Iterable[str],
    *,
    field_name: str | None = None,
    check: Callable[[Reply], str | None] | None = None,
) -> Reply:
    """One refusal: ``send()`` must answer one of ``expect`` (kinds, ``rpc:*`` for any JSON-RPC error)
    and nothing may reach the sandbox meanwhile."""
    mark = await ctx.admin.mark()
    reply = await send()
    sent = await ctx.admin.since(mark)
    kinds = set(expect)
    kind = reply.kind
    why = reply.sane()
    if why is None and not (kind in kinds or ("rpc:*" in kinds and kind.startswith("rpc:"))):
        why = f"answered {kind}, expected {' or '.join(sorted(kinds))}"
    named = reply.payload.get("field")
    if why is None and field_name is not None and kind == "tool:INVALID_ARGUMENTS" and named != field_name:
        why = f"field {named!r}, expected {field_name!r}"
    if why is None and check is not None:
        why = check(reply)
    if sent:
        tally.sent += 1
        why = why or f"{len(sent)} request(s) reached the sandbox: " + ", ".join(
            f"{e['method']} {e['path']}" for e in sent[:3]
        )
    tally.record(case, why is None, why or "", answer=short(reply))
    if ctx.args.verbose:
        log(f"  {'ok ' if why is None else 'BAD'} {tally.key} {case}: {kind}")
    return reply


# --------------------------------------------------------------------------- 1. scope escapes


def program_refused(reply: Reply) -> str | None:
    """An execute program that catches the refusal returns it: it must read OUT_OF_SCOPE."""
    value = reply.payload.get("result")
    if reply.kind == "ok" and not (isinstance(value, str) and value.startswith("OUT_OF_SCOPE")):
        return f"the program's call was not refused: {str(value)[:200]}"
    return None


def try_program(call: str) -> str:
    return f"try:\n    {call}\n    out = 'sent'\nexcept RuntimeError as e:\n    out = str(e)\nout\n"


async def scenario_scope(ctx: Ctx) -> Tally:
    t = Tally("1", "scope escapes")
    tk = ctx.tokens
    sessions: dict[str, Mcp] = {}
    for name in ("admin", "bound", "reader", "narrow", "disc_reader", "bound_disc", "narrow_disc"):
        sessions[name] = ctx.mcp(tk[name])
        opened = await sessions[name].open()
        if opened.status != 200:
            t.fail(f"open {name}", f"initialize answered {opened.kind}")
    if HAS_MONTY:
        for name in ("code_reader", "bound_code"):
            sessions[name] = ctx.mcp(tk[name])
            await sessions[name].open()
    else:
        t.skipped.append("execute programs (pydantic-monty is not installed)")

    # Controls: the same calls in scope do go through (else the refusals below prove nothing).
    own = await sessions["bound"].call("accounting_get_clients", {"limit": 1})
    wide = await sessions["admin"].call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1})
    for case, reply in (
        ("control: bound token, own consumer", own),
        ("control: admin, other consumer", wide),
    ):
        if reply.kind != "ok":
            t.fail(case, f"answered {reply.kind}: {short(reply)}")

    scope = {"tool:OUT_OF_SCOPE"}
    bound = sessions["bound"]
    arg_cases: list[tuple[str, str, Any]] = [
        ("other consumer in arguments", "accounting_get_clients", {"consumer_id": OTHER, "limit": 1}),
        ("inactive consumer in arguments", "accounting_get_clients", {"consumer_id": INACTIVE}),
        ("other consumer, padded", "accounting_get_clients", {"consumer_id": f" {OTHER} "}),
        ("other consumer as a list", "accounting_get_clients", {"consumer_id": [OTHER]}),
        ("other consumer as a number", "accounting_get_clients", {"consumer_id": 22222222}),
        (
            "create for the other consumer",
            "accounting_create_client",
            {"consumer_id": OTHER, "name": "ADV x"},
        ),
        ("account-level: the other consumer", "consumers_get_consumer", {"consumer_id": OTHER}),
        ("account-level: its connections", "connections_get_connections", {"consumer_id": OTHER}),
        ("account-level: every consumer", "consumers_get_consumers", {}),
    ]
    for case, name, args in arg_cases:
        await attempt(ctx, t, f"bound: {case}", lambda n=name, a=args: bound.call(n, a), scope)
    climbs = [
        f"../../{OTHER}/accounting/clients",
        f"..%2F..%2F{OTHER}%2Faccounting%2Fclients",
        f"%2e%2e%2f%2e%2e%2f{OTHER}",
        f"..\\..\\{OTHER}",
    ]
    for value in climbs:
        await attempt(
            ctx,
            t,
            f"bound: path id climbing to the other consumer ({value[:14]}...)",
            lambda v=value: bound.call("accounting_get_client", {"client_id": v}),
            {"tool:INVALID_ARGUMENTS"},
            field_name="client_id",
        )

    # X-Chift-Consumer-Id.
    await attempt(
        ctx,
        t,
        "bound + header: other consumer, at initialize",
        lambda: ctx.mcp(tk["bound"], {"X-Chift-Consumer-Id": OTHER}).open(),
        {"http:403"},
    )
    await attempt(
        ctx,
        t,
        "bound + header: other consumer, on a call in an open session",
        lambda: bound.call("accounting_get_clients", {"limit": 1}, bound.headers(X_Chift_Consumer_Id=OTHER)),
        {"http:403"},
    )
    port = ctx.main.port
    padded_call = json.dumps(
        bound.request("tools/call", {"name": "accounting_get_clients", "arguments": {"limit": 1}})
    )
    await attempt(
        ctx,
        t,
        "bound + header: other consumer padded with spaces and tabs (raw)",
        lambda: raw_http(
            port,
            [
                "POST /mcp HTTP/1.1",
                f"Host: 127.0.0.1:{port}",
                f"Authorization: Bearer {tk['bound']}",
                f"X-Chift-Consumer-Id: \t  {OTHER} \t ",
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream",
                f"Mcp-Session-Id: {bound.session}",
                f"Mcp-Protocol-Version: {PROTOCOL}",
            ],
            padded_call.encode(),
        ),
        {"http:403"},
    )
    narrowed = ctx.mcp(tk["admin"], {"X-Chift-Consumer-Id": DEMO})
    await narrowed.open()
    await attempt(
        ctx,
        t,
        "admin narrowed by header to one consumer, other consumer in arguments",
        lambda: narrowed.call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1}),
        scope,
    )
    await attempt(
        ctx,
        t,
        "admin narrowed by header, account-level tool",
        lambda: narrowed.call("consumers_get_consumers", {}),
        scope,
    )
    for value in (f"../{OTHER}", f"{DEMO},{OTHER}", f"{OTHER}\t{DEMO}"):
        await attempt(
            ctx,
            t,
            f"header that is not a consumer id ({value[:12]}...)",
            lambda v=value: ctx.mcp(tk["admin"], {"X-Chift-Consumer-Id": v}).open(),
            {"http:400"},
        )

    # Read-only tokens writing.
    reader = sessions["reader"]
    writes: list[tuple[str, Any]] = [
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV ro", "addresses": []}),
        ("accounting_create_invoice", {**INVOICE, "invoice_number": "ADV-ro"}),
        ("accounting_update_client", {"consumer_id": DEMO, "client_id": "c1", "name": "ADV ro"}),
        ("invoicing_post_contacts", {"consumer_id": DEMO}),
        ("pos_update_pos_customer", {"consumer_id": DEMO, "customer_id": "c1"}),
    ]
    for name, args in writes:
        await attempt(ctx, t, f"read-only: {name}", lambda n=name, a=args: reader.call(n, a), scope)
    disc = sessions["disc_reader"]
    for name, args in writes[:3]:
        await attempt(
            ctx,
            t,
            f"read-only discovery: call_operation {name}",
            lambda n=name, a=args: disc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )
    for name in ("call_operation", "execute"):
        await attempt(
            ctx,
            t,
            f"read-only discovery: call_operation of the local tool {name}",
            lambda n=name: disc.call(
                "call_operation", {"name": n, "arguments": {"name": "accounting_create_client"}}
            ),
            {"tool:OUT_OF_SCOPE", "tool:INVALID_ARGUMENTS", "rpc:-32602"},
        )
    await attempt(
        ctx,
        t,
        "read-only discovery: the write tool by its own name",
        lambda: disc.call("accounting_create_client", {"consumer_id": DEMO, "name": "ADV ro"}),
        {"tool:OUT_OF_SCOPE", "rpc:-32602"},
    )
    if HAS_MONTY:
        coder = sessions["code_reader"]
        programs = {
            "create, caught": try_program(
                f"accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])"
            ),
            "update, caught": try_program(
                f"accounting_update_client(consumer_id='{DEMO}', client_id='c1', name='ADV ro')"
            ),
            "create, uncaught": f"accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])",
            "create through an alias": try_program(
                f"f = accounting_create_client\n    f(consumer_id='{DEMO}', name='ADV ro', addresses=[])"
            ),
            "ten creates in a loop": (
                "outs = []\nfor i in range(10):\n"
                "    try:\n"
                f"        accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])\n"
                "        outs.append('sent')\n"
                "    except RuntimeError as e:\n"
                "        outs.append(str(e).split(':')[0])\n"
                "'OUT_OF_SCOPE' if outs == ['OUT_OF_SCOPE'] * 10 else str(outs)\n"
            ),
        }
        for case, program in programs.items():
            await attempt(
                ctx,
                t,
                f"read-only execute: {case}",
                lambda p=program: coder.call("execute", {"code": p}),
                {"ok", "tool:PROGRAM_ERROR", "tool:OUT_OF_SCOPE"},
                check=program_refused,
            )

    # Consumer-bound discovery and code tokens naming another consumer.
    bdisc = sessions["bound_disc"]
    for case, name, args in arg_cases[:1] + arg_cases[5:7]:
        await attempt(
            ctx,
            t,
            f"bound discovery: call_operation, {case}",
            lambda n=name, a=args: bdisc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )
    if HAS_MONTY:
        bcode = sessions["bound_code"]
        for case, call in (
            ("other consumer", f"accounting_get_clients(consumer_id='{OTHER}', limit=1)"),
            ("create for the other consumer", f"accounting_create_client(consumer_id='{OTHER}', name='x')"),
            ("account-level tool", "consumers_get_consumers()"),
        ):
            await attempt(
                ctx,
                t,
                f"bound execute: {case}",
                lambda c=call: bcode.call("execute", {"code": try_program(c)}),
                {"ok", "tool:PROGRAM_ERROR", "tool:OUT_OF_SCOPE"},
                check=program_refused,
            )

    # A narrowed function_config ({"accounting": ["get"]}) calling outside it.
    narrow = sessions["narrow"]
    for name, args in (
        ("invoicing_get_invoices", {"consumer_id": DEMO}),
        ("pos_get_orders", {"consumer_id": DEMO}),
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV narrow", "addresses": []}),
        ("consumers_get_consumers", {}),
    ):
        await attempt(ctx, t, f"narrowed: {name}", lambda n=name, a=args: narrow.call(n, a), scope)
    ndisc = sessions["narrow_disc"]
    for name, args in (
        ("invoicing_get_invoices", {"consumer_id": DEMO}),
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV narrow", "addresses": []}),
    ):
        await attempt(
            ctx,
            t,
            f"narrowed discovery: call_operation {name}",
            lambda n=name, a=args: ndisc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )

    # Resuming another session's SSE stream (GET with Last-Event-ID): never its events.
    if not ctx.args.json_response:
        admin_s = sessions["admin"]
        secret_call = await admin_s.call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1})
        event_ids = re.findall(r"^id: (\S+)", secret_call.text, re.MULTILINE)
        marker = json.dumps(secret_call.payload.get("items", [{}])[0].get("name", "-"))[1:-1]
        for case, token, session in (
            ("reader token, the admin's session", tk["reader"], admin_s.session),
            ("reader token, its own session, the admin's event id", tk["reader"], sessions["reader"].session),
            ("bound token, its own session, the admin's event id", tk["bound"], sessions["bound"].session),
        ):
            await attempt(
                ctx,
                t,
                f"stream resume: {case}",
                lambda tok=token, sid=session: resume(ctx, tok, sid, event_ids[-1] if event_ids else "x-1"),
                {"http:404", "http:403", "http:401", "http:200:no answer", "http:400"},
                check=lambda r, m=marker: f"replayed the admin's answer ({m})" if m in r.text else None,
            )

    # A session id reused with another token (or none).
    admin = sessions["admin"]
    write = ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV hijack", "addresses": []})
    for case, token, owner in (
        ("reader token in the admin's session, a write", tk["reader"], admin),
        ("bound token in the admin's session, the other consumer", tk["bound"], admin),
        ("admin token in the reader's session", tk["admin"], reader),
        ("narrowed token in the admin's session", tk["narrow"], admin),
    ):
        name, args = write if "bound" not in case else ("accounting_get_clients", {"consumer_id": OTHER})
        await attempt(
            ctx,
            t,
            f"session reuse: {case}",
            lambda tok=token, o=owner, n=name, a=args: o.call(n, a, o.headers(Authorization=f"Bearer {tok}")),
            {"http:404", "http:403", "http:401"},
        )
    await attempt(
        ctx,
        t,
        "session reuse: the admin's session without a token",
        lambda: admin.call(*write, admin.headers(Authorization=None)),
        {"http:401"},
    )
    for m in sessions.values():
        await m.close()
    await narrowed.close()
    return t


async def resume(ctx: Ctx, token: str, session: str | None, last_event: str) -> Reply:
    """GET the MCP endpoint with Last-Event-ID, reading what the stream sends for a second."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Mcp-Session-Id": session or "",
        "Mcp-Protocol-Version": PROTOCOL,
        "Last-Event-ID": last_event,
    }
    chunks: list[str] = []
    try:
        async with ctx.http.stream("GET", ctx.main.url + "/mcp", headers=headers) as resp:
            status = resp.status_code
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    async for text in resp.aiter_text():
                        chunks.append(text)
    except httpx2.HTTPError as exc:
        return Reply(0, {}, "", transport=type(exc).__name__)
    return Reply(status, dict(resp.headers), "".join(chunks))


# --------------------------------------------------------------------------- 2. bad inputs


async def scenario_inputs(ctx: Ctx) -> Tally:
    t = Tally("2", "bad inputs")
    admin = ctx.mcp(ctx.tokens["admin"])
    await admin.open()
    invalid = {"tool:INVALID_ARGUMENTS"}
    await attempt(
        ctx,
        t,
        "70,000-character search",
        lambda: admin.call("accounting_get_clients", {"consumer_id": DEMO, "search": "x" * 70_000}),
        invalid,
        field_name="search",
    )
    await attempt(
        ctx,
        t,
        "70,000-character search in a list of ids' worth of text",
        lambda: admin.call("accounting_get_clients", {"consumer_id": DEMO, "search": "é/%&" * 17_500}),
        invalid,
        field_name="search",
    )
    nonfinite = {"tool:INVALID_ARGUMENTS", "rpc:-32700", "rpc:-32602", "http:400"}
    invoice_text = json.dumps({**INVOICE, "untaxed_amount": "@N@"})
    line_text = json.dumps({**INVOICE, "lines": [{**INVOICE["lines"][0], "unit_price": "@N@"}]})
    tax_text = json.dumps(
        {**INVOICE, "withholding_tax": {"tax_rate": "@N@", "tax_code": "V", "tax_amount": 1}}
    )
    for token in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        for case, name, text, where in (
            ("limit", "accounting_get_clients", json.dumps({"consumer_id": DEMO, "limit": "@N@"}), "limit"),
            (
                "offset",
                "accounting_get_clients",
                json.dumps({"consumer_id": DEMO, "offset": "@N@"}),
                "offset",
            ),
            ("untaxed_amount", "accounting_create_invoice", invoice_text, "untaxed_amount"),
            ("lines[0].unit_price", "accounting_create_invoice", line_text, "lines[0].unit_price"),
            ("withholding_tax.tax_rate", "accounting_create_invoice", tax_text, "withholding_tax.tax_rate"),
        ):
            raw = text.replace('"@N@"', token)
            await attempt(
                ctx,
                t,
                f"{token} as {case}",
                lambda n=name, r=raw: admin.raw_call(n, r),
                nonfinite,
                field_name=where,
            )
    for value in (
        "a/b",
        "a\\b",
        "..",
        ".",
        "%2F",
        "a%2Fb",
        "%2e%2e",
        "%2E%2E",
        "..%2F..%2Fsuppliers",
        "%252F",
        "%5C",
        "%2e",
        "",
        " ",
    ):
        await attempt(
            ctx,
            t,
            f"path id {value!r} (get)",
            lambda v=value: admin.call("accounting_get_client", {"consumer_id": DEMO, "client_id": v}),
            invalid,
            field_name="client_id",
        )
    for value in ("..", "a/b", "%2e%2e", "..%5C..", "%2F"):
        await attempt(
            ctx,
            t,
            f"path id {value!r} (update: a write)",
            lambda v=value: admin.call(
                "accounting_update_client", {"consumer_id": DEMO, "client_id": v, "name": "ADV"}
            ),
            invalid,
            field_name="client_id",
        )
        await attempt(
            ctx,
            t,
            f"path id {value!r} as the consumer",
            lambda v=value: admin.call("accounting_get_clients", {"consumer_id": v, "limit": 1}),
            invalid,
            field_name="consumer_id",
        )

    # Path ids that are not refused must still reach exactly the route asked for, percent-encoded.
    for value in (
        "\uff0e\uff0e",  # fullwidth dots (NFKC: "..")
        "..;",
        "%c0%af",  # overlong UTF-8 "/"
        "%%32%66",
        "%25%32%66",  # "%2f" once decoded
        "a\u2215b",  # division slash
        "a%00b",
        "a\x00b",
        "a?b=1&consumer_id=" + OTHER,
        "a#b",
        "%",
    ):
        mark = await ctx.admin.mark()
        reply = await admin.call("accounting_get_client", {"consumer_id": DEMO, "client_id": value})
        sent = await ctx.admin.since(mark)
        why = reply.sane()
        if why is None and reply.kind == "tool:INVALID_ARGUMENTS":
            why = (
                None if reply.payload.get("field") == "client_id" else f"field {reply.payload.get('field')!r}"
            )
            t.sent += bool(sent)
            why = why or (f"refused, yet {len(sent)} request(s) sent" if sent else None)
        elif why is None:
            routes = {(e["operation_id"], e["path"].count("/")) for e in sent}
            if (
                not sent
                or routes != {("accounting_get_client", 5)}
                or not reply.kind.startswith(("ok", "tool:"))
            ):
                why = f"answered {reply.kind}, sent {[(e['method'], e['path']) for e in sent]}"
        t.record(f"path id {value!r}: refused or the same route", why is None, why or "", answer=short(reply))
    for value in ("1\r\nX-Injected: yes", "1\nX-Injected: yes", "1\x00", "caf\u00e9"):
        await attempt(
            ctx,
            t,
            f"header argument {value!r}",
            lambda v=value: admin.call(
                "insights_query_db", {"datalayer_max_staleness": v, "measures": ["invoices.count"]}
            ),
            invalid,
            field_name="datalayer_max_staleness",
        )
    big = admin.request(
        "tools/call",
        {"name": "accounting_create_client", "arguments": {"consumer_id": DEMO, "name": "x" * 1_200_000}},
    )
    await attempt(ctx, t, "a 1.2 MB body (over CHIFT_HTTP_MAX_BODY)", lambda: admin.post(big), {"http:413"})

    # Repeated headers and foreign Hosts, written by hand. The body is a write in an open session, so
    # anything let through would show at the sandbox.
    port = ctx.main.port
    here = f"127.0.0.1:{port}"
    body = json.dumps(
        admin.request(
            "tools/call",
            {"name": "accounting_create_client", "arguments": {"consumer_id": DEMO, "name": "ADV raw"}},
        )
    ).encode()
    common = [
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        f"Mcp-Session-Id: {admin.session}",
        f"Mcp-Protocol-Version: {PROTOCOL}",
    ]
    auth = f"Authorization: Bearer {ctx.tokens['admin']}"
    repeated = {
        "two Host headers, one foreign": [f"Host: {here}", "Host: evil.example", auth],
        "two Host headers, both served": [f"Host: {here}", f"Host: localhost:{port}", auth],
        "two Host headers, foreign first": ["Host: evil.example", f"Host: {here}", auth],
        "the same bearer twice": [f"Host: {here}", auth, auth],
        "two bearers (reader, admin)": [
            f"Host: {here}",
            f"Authorization: Bearer {ctx.tokens['reader']}",
            auth,
        ],
        "two consumer headers": [
            f"Host: {here}",
            auth,
            f"X-Chift-Consumer-Id: {DEMO}",
            f"X-Chift-Consumer-Id: {OTHER}",
        ],
        "two Origin headers": [
            f"Host: {here}",
            auth,
            f"Origin: http://{here}",
            "Origin: http://evil.example",
        ],
    }
    for case, head in repeated.items():
        await attempt(
            ctx,
            t,
            f"raw: {case}",
            lambda h=head: raw_http(port, ["POST /mcp HTTP/1.1", *h, *common], body),
            {"http:400"},
        )
    foreign = {
        "POST /mcp/ with a foreign Host": ("POST /mcp/ HTTP/1.1", "Host: evil.example"),
        "POST /mcp with a foreign Host": ("POST /mcp HTTP/1.1", "Host: evil.example"),
        "POST /mcp/?token=x with a foreign Host": ("POST /mcp/?token=x HTTP/1.1", "Host: evil.example"),
        "GET /nowhere with a foreign Host": ("GET /nowhere HTTP/1.1", "Host: evil.example"),
        "Host 127.0.0.1.evil.example": ("POST /mcp/ HTTP/1.1", f"Host: 127.0.0.1.evil.example:{port}"),
        "Host with a userinfo trick": ("POST /mcp HTTP/1.1", f"Host: {here}@evil.example"),
        "Host localhost.evil.example": ("POST /mcp HTTP/1.1", f"Host: localhost.evil.example:{port}"),
        "no Host at all": ("POST /mcp HTTP/1.1", ""),
    }
    for case, (line, host) in foreign.items():
        await attempt(
            ctx,
            t,
            f"raw: {case}",
            lambda ln=line, h=host: raw_http(port, [ln, *([h] if h else []), auth, *common], body),
            {"http:421", "http:400"},
        )

    # Protocol errors.
    rpc = {"rpc:-32602"}
    for case, method, params in (
        ("unknown cursor on tools/list", "tools/list", {"cursor": "eyJvZmZzZXQiOiAxMDB9"}),
        ("empty cursor on tools/list", "tools/list", {"cursor": ""}),
        ("unknown cursor on prompts/list", "prompts/list", {"cursor": "2"}),
    ):
        await attempt(ctx, t, case, lambda m=method, p=params: admin.post(admin.request(m, p)), rpc)
    for case, name in (
        ("unknown tool, a near miss", "accounting_get_clientz"),
        ("unknown tool, empty name", ""),
        ("unknown tool, 5,000 characters", "x" * 5000),
        ("unknown tool, a path", "../../etc/passwd"),
        ("unknown tool, control characters", "accounting_get_clients\n\x00"),
    ):
        await attempt(ctx, t, case, lambda n=name: admin.call(n, {"consumer_id": DEMO}), rpc)
    await attempt(
        ctx,
        t,
        "a code-mode tool on a tools-mode token",
        lambda: admin.call("execute", {"code": "1"}),
        {"rpc:-32602", "tool:OUT_OF_SCOPE", "tool:TOOL_ERROR"},
    )
    for case, params in (
        ("arguments as a string", {"name": "accounting_get_clients", "arguments": "x"}),
        ("arguments as a list", {"name": "accounting_get_clients", "arguments": [DEMO]}),
        ("no tool name", {"arguments": {}}),
        ("tool name as a number", {"name": 7, "arguments": {}}),
    ):
        await attempt(ctx, t, case, lambda p=params: admin.post(admin.request("tools/call", p)), {"rpc:*"})
    for case, text in (
        ("not JSON", b"{bad json"),
        ("a JSON-RPC batch", b"[]"),
        ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":3,"method":"tools/list"}'),
        (
            "deeply nested arguments",
            (
                '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"accounting_get_clients","arguments":'
                + "[" * 5000
                + "]" * 5000
                + "}}"
            ).encode(),
        ),
    ):
        await attempt(ctx, t, case, lambda x=text: admin.post(x), {"rpc:*", "http:400"})
    # JSON-RPC ids must be strings or numbers (MCP: strings or integers); the MCP SDK reads a request
    # with another id as a notification and answers 202 with nothing. Harmless here (nothing is
    # called), noted rather than counted.
    for case, text in (
        (
            "id as an object",
            b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/call","params":{"name":"accounting_create_client","arguments":{}}}',
        ),
        ("id as a float", b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}'),
    ):
        reply = await attempt(
            ctx, t, case, lambda x=text: admin.post(x), {"rpc:*", "http:400", "http:202:no answer"}
        )
        if reply.kind == "http:202:no answer":
            t.observations.append(
                f"{case}: answered 202 with no JSON-RPC answer (the SDK reads it as a notification)"
            )
    # Finite but absurd paging values: schema-valid (no minimum, and 1e300 is an integer-valued number),
    # so not refusals; what reaches the sandbox is noted.
    for text in (
        f'{{"consumer_id":"{DEMO}","offset":1e300}}',
        f'{{"consumer_id":"{DEMO}","offset":-1,"limit":-5}}',
    ):
        mark = await ctx.admin.mark()
        reply = await admin.raw_call("accounting_get_clients", text)
        sent = await ctx.admin.since(mark)
        queries = [e["query"][:60] + ("..." if len(e["query"]) > 60 else "") for e in sent]
        t.observations.append(f"accounting_get_clients {text[50:]} -> {reply.kind}, sent {queries}")
    await admin.close()
    return t


# --------------------------------------------------------------------------- 3. secrets


def spellings(secret: str) -> dict[str, str]:
    """The ways an upstream answer might spell ``secret``: written here, not taken from the scrubber."""
    json_plain = json.dumps(secret, ensure_ascii=False)[1:-1]
    json_ascii = json.dumps(secret)[1:-1]
    forms = {
        "plain": secret,
        "JSON-escaped": json_plain,
        "JSON-escaped, ASCII": json_ascii,
        "JSON-escaped, slashes": json_ascii.replace("/", "\\/"),
        "URL-encoded": quote(secret, safe=""),
        "URL-encoded, path": quote(secret),
        "form-encoded": quote_plus(secret),
        "upper-cased": secret.upper(),
        "URL-encoded, upper-cased": quote(secret, safe="").upper(),
        "Python repr": repr(secret)[1:-1],
    }
    out: dict[str, str] = {}
    for label, form in forms.items():
        if form not in out.values():
            out[label] = form
    return out


ECHOED_FORMS = frozenset(
    {
        "plain",
        "JSON-escaped",
        "JSON-escaped, ASCII",
        "JSON-escaped, slashes",
        "URL-encoded",
        "URL-encoded, path",
        "form-encoded",
        "upper-cased",
        "URL-encoded, upper-cased",
    }
)


def echoed_spellings(secret: str) -> dict[str, str]:
    """The spellings the sandbox is scripted to echo (a Python repr is only looked for)."""
    return {k: v for k, v in spellings(secret).items() if k in ECHOED_FORMS}


def needles(secret: str) -> list[str]:
    """What to look for (case-insensitively): every spelling, and a JWT's signature on its own."""
    found = {f.lower() for f in spellings(secret).values()}
    if secret.count(".") == 2 and len(secret.rsplit(".", 1)[1]) >= 16:
        found.add(secret.rsplit(".", 1)[1].lower())
    return sorted(found)


def strings_in(value: Any) -> Iterable[str]:
    """Every string in a JSON value, JSON text inside strings decoded too (a tool result's text)."""
    if isinstance(value, str):
        yield value
        if value[:1] in "{[":
            with contextlib.suppress(ValueError):
                yield from strings_in(json.loads(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def leaks_in(reply: Reply, secrets_: dict[str, str]) -> list[str]:
    texts = [reply.text, *strings_in(reply.message)]
    low = [x.lower() for x in texts]
    return [label for label, s in secrets_.items() if any(n in x for n in needles(s) for x in low)]


Secret = str | Callable[[], str | None]  # a value, or how to read the one in use now


async def echo_cases(
    ctx: Ctx,
    t: Tally,
    where: str,
    proc: Proc,
    admin: Admin,
    token: str,
    echoed: dict[str, Secret],
    *,
    passthrough: bool = False,
) -> None:
    """Faults that echo every spelling of every ``echoed`` secret in error_code and message; every
    answer must be an error without any of them. An access token is read from the proxy just before
    each case: the one the server is sending, which is what an upstream would echo."""
    mcp = ctx.mcp(token, proc=proc)
    await mcp.open()
    retries = 3
    get = ("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    create = ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV echo", "addresses": []})
    templates: list[tuple[str, tuple[str, Any], dict[str, Any]]] = [
        ("400", get, {"kind": "status", "status": 400}),
        ("422 on a create", create, {"kind": "status", "status": 422}),
        (
            "429 until the retries run out",
            get,
            {"kind": "status", "status": 429, "retry_after": 0, "times": retries + 1},
        ),
        (
            "503 until the retries run out",
            get,
            {"kind": "status", "status": 503, "retry_after": 0, "times": retries + 1},
        ),
        ("500 on a create", create, {"kind": "status", "status": 500}),
        ("lost answer of a create (500)", create, {"kind": "drop_after_processing", "status": 500}),
        ("404", get, {"kind": "status", "status": 404}),
    ]
    if passthrough:  # the caller's token: nothing to refresh, no replay
        templates.append(("401", get, {"kind": "status", "status": 401}))
    else:
        templates.append(
            ("401 twice (token refresh, replay)", get, {"kind": "status", "status": 401, "times": 2})
        )
        # The token endpoint itself: tokens revoked, the refresh answered 500 with the echo.
        templates.append(("/token answering 500 after a revoke", get, {"revoke": True}))

    def resolve(label: str, value: Secret) -> str | None:
        secret = value() if callable(value) else value
        if secret:
            ctx.secrets.setdefault(label if not callable(value) else f"access token ...{secret[-6:]}", secret)
        return secret

    async def one(case: str, form: str, name: str, args: Any, fault: dict[str, Any]) -> Reply:
        echo = {"error_code": f"ERR_{form}", "message": f"Rejected: {form} (Authorization: Bearer {form})"}
        if fault.get("revoke"):
            await admin.revoke()
            await admin.fault(match="generate_access_token_token_post", kind="status", status=500, **echo)
        else:
            await admin.fault(match=name, **echo, **fault)
        return await mcp.call(name, args)

    for label, value in echoed.items():
        for case, (name, args), fault in templates:
            secret = resolve(label, value)
            if not secret:
                t.fail(f"{where}: {label}", "no value to echo (the proxy saw no token)")
                break
            for form_name, form in echoed_spellings(secret).items():
                reply = await one(case, form, name, args, fault)
                left = await admin.pending()
                if left:
                    await admin.clear()
                problems = leaks_in(reply, ctx.secrets)
                why = reply.sane()
                if problems:
                    why = "leaked " + ", ".join(problems)
                elif left:
                    why = why or "the fault was not applied"
                elif not reply.kind.startswith("tool:"):
                    why = why or f"answered {reply.kind}, expected a tool error"
                t.leaks = (t.leaks or 0) + len(problems)
                t.notes["answers with *** where the echo was"] = t.notes.get(
                    "answers with *** where the echo was", 0
                ) + ("***" in reply.text)
                t.record(f"{where}: {label} {form_name}, {case}", why is None, why or "", answer=short(reply))
                secret_now = resolve(label, value)
                if secret_now != secret:  # a refresh: echo the new token from now on
                    break
    await mcp.close()


async def scenario_secrets(ctx: Ctx) -> Tally:
    t = Tally("3", "secrets")
    t.leaks = 0
    # Pass-through: the caller's bearer is the Chift token the sandbox echoes.
    bearer = await ctx.admin.token()
    ctx.secrets["pass-through bearer"] = bearer
    passthrough = server_proc(ctx.logs, "server-passthrough", ctx.admin.url, {}, ["--auth", "chift"])
    await passthrough.start()
    ctx.procs.append(passthrough)
    await echo_cases(
        ctx, t, "pass-through", passthrough, ctx.admin, bearer, {"the bearer": bearer}, passthrough=True
    )
    passthrough.stop()

    # API key: the client secret and the access token the server got (seen by the proxy).
    warm = ctx.mcp(ctx.tokens["admin"])
    await warm.open()
    await warm.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    await warm.close()
    echoed: dict[str, Secret] = {
        "client secret": SANDBOX_CLIENT_SECRET,
        "access token in use": lambda: ctx.proxy.last,
    }
    await echo_cases(ctx, t, "API key", ctx.main, ctx.admin, ctx.tokens["admin"], echoed)

    if not ctx.args.no_hard_secret:
        hard = "hs-" + secrets.token_urlsafe(12) + '/"\\é+ %&=?#' + secrets.token_urlsafe(6)
        ctx.secrets["hard client secret"] = hard
        sandbox = sandbox_proc(ctx.logs, "sandbox-hard-secret", client_secret=hard)
        await sandbox.start()
        ctx.procs.append(sandbox)
        proxy = SniffingProxy(sandbox.port)
        url = await proxy.start()
        server = server_proc(
            ctx.logs,
            "server-hard-secret",
            url,
            {"CHIFT_CLIENT_SECRET": hard, "CHIFT_MCP_TOKEN": ctx.tokens["admin"]},
            [],
        )
        await server.start()
        ctx.procs.append(server)
        admin = Admin(sandbox.url)
        warm = ctx.mcp(ctx.tokens["admin"], proc=server)
        await warm.open()
        first = await warm.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
        await warm.close()
        if first.kind != "ok":
            t.fail("hard secret", f"the server could not use the hard secret: {short(first)}")
        hard_echo: dict[str, Secret] = {"hard client secret": hard, "access token in use": lambda: proxy.last}
        await echo_cases(ctx, t, "hard secret", server, admin, ctx.tokens["admin"], hard_echo)
        server.stop()
        sandbox.stop()
        await proxy.close()
        await admin.aclose()
    return t


# --------------------------------------------------------------------------- 4. writes under faults


@dataclass
class Done:
    n: int
    op: str
    marker: str | None
    reply: Reply
    started: float
    ended: float


FAULTS: list[tuple[str, int, bool, dict[str, Any]]] = [
    # (label, weight, creates only, fault)
    ("429 Retry-After 1", 4, False, {"kind": "status", "status": 429, "retry_after": 1}),
    ("503", 2, False, {"kind": "status", "status": 503}),
    ("502", 1, False, {"kind": "status", "status": 502}),
    ("504", 1, False, {"kind": "status", "status": 504}),
    ("500", 1, False, {"kind": "status", "status": 500}),
    ("503 x4 (retries spent)", 1, False, {"kind": "status", "status": 503, "retry_after": 0, "times": 4}),
    ("lost answer, 502 (retried)", 3, True, {"kind": "drop_after_processing", "status": 502}),
    (
        "lost answer, 503 Retry-After 0",
        1,
        True,
        {"kind": "drop_after_processing", "status": 503, "retry_after": 0},
    ),
    ("lost answer, 500", 1, True, {"kind": "drop_after_processing", "status": 500}),
    ("latency past the request timeout", 2, True, {"kind": "latency"}),
    ("malformed JSON", 1, False, {"kind": "malformed_json"}),
    ("latency 0.3 s", 1, False, {"kind": "latency", "latency": 0.3}),
]
CREATES = ("accounting_create_client", "accounting_create_invoice")
READS = ("accounting_get_clients", "accounting_get_client", "accounting_get_invoices_by_type")


async def fault_scheduler(ctx: Ctx, stop: asyncio.Event, applied: Counter[str], timeout: float) -> None:
    """Keeps a couple of faults pending, on creates mostly, until ``stop``."""
    rng = random.Random(ctx.args.seed + 4)
    weights = [w for _, w, _, _ in FAULTS]
    while not stop.is_set():
        try:
            if len(await ctx.admin.pending()) < 2:
                label, _, creates_only, fault = rng.choices(FAULTS, weights)[0]
                target = rng.choice(CREATES if creates_only or rng.random() < 0.7 else READS)
                fault = dict(fault)
                if fault["kind"] == "latency" and "latency" not in fault:
                    fault["latency"] = timeout + 1.0
                await ctx.admin.fault(match=target, **fault)
                applied[label] += 1
        except httpx2.HTTPError:
            pass
        await asyncio.sleep(0.05)


async def scenario_writes(ctx: Ctx) -> Tally:
    t = Tally("4", "writes under faults")
    args = ctx.args
    rt = args.request_timeout
    server = server_proc(
        ctx.logs,
        "server-load",
        ctx.proxy_url,
        {"CHIFT_MCP_TOKENS_FILE": str(ctx.logs / "tokens.json"), "CHIFT_HTTP_REQUEST_TIMEOUT": str(rt)},
        ["--json-response"] if args.json_response else [],
    )
    await server.start()
    ctx.procs.append(server)
    run = secrets.token_hex(3)
    rng = random.Random(args.seed)
    counter = itertools.count()
    done: list[Done] = []
    created_ids: list[str] = []
    kill_at = int(args.calls * 0.4) if not args.no_kill else None
    killed = asyncio.Event()
    window: dict[str, float] = {}
    before_tx = {x["client_request_id"] for x in await ctx.admin.transactions()}
    mark = await ctx.admin.mark()
    stats0 = await ctx.admin.stats()
    limits = httpx2.Limits(max_connections=args.sessions + 4, max_keepalive_connections=args.sessions + 4)
    http = httpx2.AsyncClient(timeout=rt + 30, limits=limits)

    def plan(n: int) -> tuple[str, Any, str | None]:
        r = rng.random()
        if r < 0.35:
            marker = f"ADV-{run}-c{n:05d}"
            return (
                "accounting_create_client",
                {
                    "consumer_id": DEMO,
                    "name": f"ADV client {marker}",
                    "external_reference": marker,
                    "addresses": [],
                },
                marker,
            )
        if r < 0.55:
            marker = f"ADV-{run}-i{n:05d}"
            return (
                "accounting_create_invoice",
                {**INVOICE, "invoice_number": marker, "reference": marker},
                marker,
            )
        if r < 0.8 or not created_ids:
            return "accounting_get_clients", {"consumer_id": DEMO, "limit": 1 + n % 5}, None
        if r < 0.92:
            return "accounting_get_client", {"consumer_id": DEMO, "client_id": rng.choice(created_ids)}, None
        return (
            "accounting_get_invoices_by_type",
            {"consumer_id": DEMO, "invoice_type": "customer_invoice", "limit": 2},
            None,
        )

    async def reopen(mcp: Mcp) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            opened = await mcp.open()
            if opened.status == 200 and mcp.session:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("could not reopen a session after the restart")

    async def worker() -> None:
        mcp = Mcp(http, server.url + "/mcp", ctx.tokens["admin"])
        await reopen(mcp)
        while (n := next(counter)) < args.calls:
            name, call_args, marker = plan(n)
            started = time.monotonic()
            reply = await mcp.call(name, call_args)
            done.append(Done(n, name, marker, reply, started, time.monotonic()))
            if reply.kind == "ok" and name == "accounting_create_client":
                created_ids.append(str(reply.payload.get("id")))
            if kill_at is not None and len(done) >= kill_at and not killed.is_set():
                killed.set()
            if reply.status in (0, 404) or (reply.status == 200 and reply.message is None):
                await reopen(mcp)  # the server was killed: a new session on the new process
        await mcp.close()

    async def killer() -> None:
        if kill_at is None:
            return
        await killed.wait()
        await asyncio.sleep(0.3)  # calls in flight
        window["kill"] = time.monotonic()
        server.kill9()
        log(f"  kill -9 of the server after {len(done)} calls; restarting it on port {server.port}")
        await server.start()
        window["up"] = time.monotonic()

    applied: Counter[str] = Counter()
    stop = asyncio.Event()
    scheduler = asyncio.create_task(fault_scheduler(ctx, stop, applied, rt))
    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.sessions)), killer())
    elapsed = time.monotonic() - began
    stop.set()
    await scheduler
    await ctx.admin.clear()
    # Let the sandbox finish what it still holds (latency faults) before reading its books.
    deadline = time.monotonic() + rt + 15
    while time.monotonic() < deadline:
        if not any(x["in_process"] for x in await ctx.admin.transactions()):
            break
        await asyncio.sleep(0.25)
    await http.aclose()

    # The sandbox's books.
    token = await ctx.admin.token()
    clients = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/clients", token)
    invoices = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/invoices/type/customer_invoice", token)
    booked: dict[str, list[str]] = {}
    for item in clients:
        ref = item.get("external_reference") or ""
        if ref.startswith(f"ADV-{run}-"):
            booked.setdefault(ref, []).append(str(item.get("id")))
    for item in invoices:
        ref = item.get("invoice_number") or ""
        if ref.startswith(f"ADV-{run}-"):
            booked.setdefault(ref, []).append(str(item.get("id")))
    tx = {
        x["client_request_id"]: x
        for x in await ctx.admin.transactions()
        if x["client_request_id"] not in before_tx
    }
    rid_of_entity = {
        x["created_entity_id"]: rid for rid, x in tx.items() if x["processed"] and x["created_entity_id"]
    }
    entries = await ctx.admin.since(mark, everything=True)
    stats1 = await ctx.admin.stats()
    logged_all = stats1["requests"] - stats0["requests"] == len(entries)
    processed_per_rid = Counter(
        e["client_request_id"]
        for e in entries
        if e["method"] == "POST" and e["processed"] and e["client_request_id"]
    )
    t.duplicates = sum(max(0, len(ids) - 1) for ids in booked.values())
    dup_rids = sum(c - 1 for c in processed_per_rid.values() if c > 1)
    t.duplicates += dup_rids
    if not logged_all:
        t.notes["request log"] = "overflowed: duplicates per request id counted from markers only"

    def in_kill(d: Done) -> bool:
        return (
            "kill" in window
            and d.started <= window.get("up", float("inf"))
            and d.ended >= window["kill"] - 0.05
        )

    lost = lost_with_rid = cut = cut_booked = 0
    by_kind: Counter[str] = Counter()
    for d in sorted(done, key=lambda d: d.n):
        kind = d.reply.kind
        by_kind[kind] += 1
        why = d.reply.sane()
        if d.marker is None:  # a read
            if why is None and not (kind == "ok" or kind.startswith("tool:")):
                why = None if in_kill(d) else f"answered {kind}"
            t.record(f"read {d.op}", why is None, why or "", answer=short(d.reply))
            continue
        ids = booked.get(d.marker, [])
        rids = {rid_of_entity.get(i) for i in ids}
        payload = d.reply.payload
        rid = payload.get("client_request_id")
        if len(ids) > 1:
            why = f"booked {len(ids)} times"
        elif kind == "ok":
            if not ids:
                why = "answered with an object the sandbox does not have"
            elif str(payload.get("id")) not in ids:
                why = f"answered object {payload.get('id')}, the sandbox booked {ids}"
        elif kind.startswith("tool:"):
            if ids:
                lost += 1
                if rid and rid in rids:
                    lost_with_rid += 1
                    if rid not in (payload.get("hint") or ""):
                        why = "booked, and the error's hint does not say how to look it up"
                else:
                    why = (
                        f"booked, but the error carries client_request_id {rid!r}, not the one that booked it"
                    )
            elif not rid and payload.get("error") not in NOTHING_SENT:
                why = "a create's error without its client_request_id"
            elif rid and tx.get(rid, {}).get("processed"):
                why = "the request id was processed but nothing carries the marker"
        elif in_kill(d):
            cut += 1
            cut_booked += bool(ids)
        else:
            why = why or f"answered {kind}" + (" (booked, outcome unknown to the agent)" if ids else "")
            if ids:
                lost += 1
        t.record(f"create {d.op}", why is None, why or "", answer=short(d.reply), marker=d.marker)
    if dup_rids:
        t.fail("request ids", f"{dup_rids} client request id(s) processed more than once")
    creates = sum(1 for d in done if d.marker)
    faults_hit = Counter(e["fault"] for e in entries if e.get("fault"))
    t.notes.update(
        {
            "calls": len(done),
            "seconds": round(elapsed, 1),
            "creates": creates,
            "booked": sum(1 for d in done if d.marker and booked.get(d.marker)),
            "answers by kind": dict(by_kind.most_common()),
            "lost answers of booked creates": lost,
            "of them with the booking client_request_id": lost_with_rid,
            "faults scripted": dict(applied.most_common()),
            "faults applied (sandbox)": dict(faults_hit.most_common()),
            "requests at the sandbox": stats1["requests"] - stats0["requests"],
            "duplicate markers": t.duplicates - dup_rids,
            "duplicate request ids": dup_rids,
        }
    )
    if "kill" in window:
        t.notes["kill -9"] = {
            "after calls": kill_at,
            "restart seconds": round(window["up"] - window["kill"], 2),
            "calls cut (no answer possible)": cut,
            "of them booked": cut_booked,
        }
    await writes_cut_off(ctx, t, server, run, rt)
    server.stop()
    return t


async def writes_cut_off(ctx: Ctx, t: Tally, server: Proc, run: str, rt: float) -> None:
    """Creates whose request runs into the door's time limit other than through a slow Chift answer:
    queued behind the per-consumer cap while Chift is slow, and (code mode) a program that writes, then
    computes past CHIFT_HTTP_REQUEST_TIMEOUT. Each must be answered, and a booked create reported."""
    token = await ctx.admin.token()
    async with httpx2.AsyncClient(timeout=rt + 30, limits=httpx2.Limits(max_connections=40)) as http:
        # 32 creates at once, every Chift request 1.5 s slow: 8 in flight (CHIFT_UPSTREAM_CONCURRENCY), the
        # others queued past the Chift deadline.
        await ctx.admin.fault(match="*", kind="latency", latency=1.5, times=0)
        queued = [Mcp(http, server.url + "/mcp", ctx.tokens["admin"]) for _ in range(32)]
        await asyncio.gather(*(m.open() for m in queued))
        markers = [f"ADV-{run}-q{i:02d}" for i in range(len(queued))]
        replies = await asyncio.gather(
            *(
                m.call(
                    "accounting_create_client",
                    {"consumer_id": DEMO, "name": mk, "external_reference": mk, "addresses": []},
                )
                for m, mk in zip(queued, markers, strict=True)
            )
        )
        await ctx.admin.clear()
        await asyncio.gather(*(m.close() for m in queued))
        programs: list[tuple[str, Reply]] = []
        if HAS_MONTY:
            coder = Mcp(http, server.url + "/mcp", ctx.tokens["coder"])
            await coder.open()
            spin = int(25e6 * (rt + 2))  # about rt + 2 seconds of the interpreter's time on this machine
            for i in range(2):
                mk = f"ADV-{run}-p{i}"
                program = (
                    f"c = accounting_create_client(consumer_id='{DEMO}', name='{mk}', external_reference='{mk}', addresses=[])\n"
                    f"x = 0\nfor i in range({spin}):\n    x += 1\nc['id']\n"
                )
                programs.append((mk, await coder.call("execute", {"code": program})))
            await coder.close()
        else:
            t.skipped.append("a program cut off by the request timeout (pydantic-monty is not installed)")
    await asyncio.sleep(1.0)
    clients = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/clients", token)
    booked = Counter(str(c.get("external_reference")) for c in clients)
    ids = {str(c.get("external_reference")): str(c.get("id")) for c in clients}
    outcomes: Counter[str] = Counter()
    for mk, reply in [*zip(markers, replies, strict=True), *programs]:
        what = "program" if "-p" in mk else "queued create"
        kind = reply.kind
        outcomes[f"{what}: {kind}"] += 1
        why = reply.sane() if reply.status != 504 else None
        if booked[mk] > 1:
            why = f"booked {booked[mk]} times"
        elif not (kind == "ok" or kind.startswith("tool:")):
            why = f"cut off: answered {kind}" + (", and the create was booked" if booked[mk] else "")
        elif kind.startswith("tool:") and booked[mk]:
            said = reply.text
            if ids[mk] not in said and not (reply.payload.get("client_request_id") or "writes" in said):
                why = "booked, and the error does not say so"
        elif (
            kind.startswith("tool:")
            and what == "queued create"
            and not reply.payload.get("client_request_id")
        ):
            why = "a create's error without its client_request_id"
        t.duplicates = (t.duplicates or 0) + max(0, booked[mk] - 1)
        t.record(f"{what} cut off by the time limit", why is None, why or "", answer=short(reply), marker=mk)
    t.notes["creates cut off by the time limit"] = dict(outcomes)


# --------------------------------------------------------------------------- 5. rate limits


async def scenario_rate_limit(ctx: Ctx) -> Tally:
    t = Tally("5", "rate limits")
    limited = ctx.mcp(ctx.tokens["limited"])
    await limited.open()
    plan = ["read"] * 45 + ["create"] * 15
    random.Random(ctx.args.seed + 5).shuffle(plan)
    gate = asyncio.Semaphore(10)

    async def one(i: int, what: str) -> tuple[str, Reply]:
        async with gate:
            if what == "read":
                return what, await limited.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
            args = {"consumer_id": DEMO, "name": f"ADV limited {i}", "addresses": []}
            return what, await limited.call("accounting_create_client", args)

    mark = await ctx.admin.mark()
    began = time.monotonic()
    replies = await asyncio.gather(*(one(i, w) for i, w in enumerate(plan)))
    elapsed = time.monotonic() - began
    await asyncio.sleep(0.2)
    sent = await ctx.admin.since(mark)
    allowed = [(w, r) for w, r in replies if r.kind == "ok"]
    for what, reply in replies:
        why = reply.sane()
        if why is None and reply.kind == "tool:RATE_LIMITED":
            p = reply.payload
            if not (isinstance(p.get("retry_after"), int) and 1 <= p["retry_after"] <= 60):
                why = f"retry_after {p.get('retry_after')!r}"
            elif p.get("retryable") is not True or "nothing was sent" not in (p.get("hint") or ""):
                why = "the refusal does not say it is retryable and nothing was sent"
        elif why is None and reply.kind != "ok":
            why = f"answered {reply.kind}"
        t.record(f"{what} over a 30/min limit", why is None, why or "", answer=short(reply))
    if len(allowed) != 30:
        t.fail("allowed", f"{len(allowed)} calls allowed, expected exactly 30")
    writes_sent = sum(1 for e in sent if e["method"] == "POST")
    creates_allowed = sum(1 for w, _ in allowed if w == "create")
    if len(sent) != len(allowed) or writes_sent != creates_allowed:
        extra = len(sent) - len(allowed)
        t.sent = max(0, extra)
        t.fail(
            "sandbox",
            f"{len(sent)} requests reached the sandbox ({writes_sent} writes) for {len(allowed)} allowed calls",
        )
    t.notes.update(
        {
            "seconds": round(elapsed, 2),
            "allowed": len(allowed),
            "rate_limited": sum(1 for _, r in replies if r.kind == "tool:RATE_LIMITED"),
            "requests at the sandbox": len(sent),
            "retry_after": sorted(
                {r.payload.get("retry_after") for _, r in replies if r.kind == "tool:RATE_LIMITED"}
            ),
        }
    )
    await limited.close()
    if HAS_MONTY:  # what one execute may send: its operation calls are not tool calls
        coder = ctx.mcp(ctx.tokens["limited_code"])
        await coder.open()
        program = (
            "n = 0\nfor i in range(40):\n"
            f"    accounting_get_clients(consumer_id='{DEMO}', limit=1)\n"
            "    n += 1\nn\n"
        )
        mark = await ctx.admin.mark()
        runs = [await coder.call("execute", {"code": program}) for _ in range(6)]
        sent = await ctx.admin.since(mark)
        kinds = Counter(r.kind for r in runs)
        t.observations.append(
            f"a code-mode token with rate_limit 5: 6 execute calls -> {dict(kinds)}; "
            f"{len(sent)} requests reached the sandbox (each program makes 40 operation calls; "
            f"CHIFT_CODE_MAX_CALLS allows 200)"
        )
        t.notes["code mode: requests at the sandbox for 5 allowed executes"] = len(sent)
        await coder.close()
    return t


# --------------------------------------------------------------------------- stderr


def stderr_leaks(ctx: Ctx, tally: Tally | None) -> dict[str, Any]:
    """Every secret known (client secrets, access tokens, bearers) looked for in every server's stderr."""
    found: list[dict[str, str]] = []
    tracebacks: dict[str, int] = {}
    lines = 0
    for proc in ctx.procs:
        if not proc.name.startswith("server"):
            continue
        text = proc.text()
        lines += text.count("\n")
        low = text.lower()
        for label, secret in ctx.secrets.items():
            for needle in needles(secret):
                if needle in low:
                    at = low.index(needle)
                    found.append(
                        {"log": proc.name, "secret": label, "context": text[max(0, at - 80) : at][-80:]}
                    )
                    break
        count = len(re.findall(r"Traceback \(most recent call last\)", text))
        if count:
            tracebacks[proc.name] = count
    if tally is not None:
        tally.leaks = (tally.leaks or 0) + len(found)
        for f in found:
            tally.fail(f"stderr of {f['log']}", f"{f['secret']} in the log", context=f["context"])
    return {
        "stderr lines": lines,
        "secrets looked for": len(ctx.secrets),
        "leaks": found,
        "tracebacks": tracebacks,
    }


# --------------------------------------------------------------------------- main


def token_entries(tokens: dict[str, str]) -> list[dict[str, Any]]:
    grants: dict[str, dict[str, Any]] = {
        "admin": {},
        "bound": {"consumer_id": DEMO},
        "reader": {"read_only": True},
        "disc_reader": {"read_only": True, "tool_mode": "discovery"},
        "code_reader": {"read_only": True, "tool_mode": "code"},
        "narrow": {"function_config": {"accounting": ["get"]}},
        "narrow_disc": {"function_config": {"accounting": ["get"]}, "tool_mode": "discovery"},
        "bound_disc": {"consumer_id": DEMO, "tool_mode": "discovery"},
        "bound_code": {"consumer_id": DEMO, "tool_mode": "code"},
        "coder": {"tool_mode": "code"},
        "limited": {"rate_limit": 30},
        "limited_code": {"rate_limit": 5, "tool_mode": "code", "read_only": True},
    }
    return [{"name": n, "token_sha256": hash_token(tokens[n]), **g} for n, g in grants.items()]


def print_table(tallies: list[Tally]) -> None:
    cols = ["scenario", "attempts", "as expected", "unexpected", "refused but sent", "duplicates", "leaks"]
    rows = []
    for t in tallies:
        r = t.row()
        rows.append(
            [
                f"{t.key}. {t.title}",
                str(r["attempts"]),
                str(r["as_expected"]),
                str(r["unexpected"]),
                str(r["refused_but_sent"]),
                "-" if r["duplicates"] is None else str(r["duplicates"]),
                "-" if r["leaks"] is None else str(r["leaks"]),
            ]
        )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cols))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(widths[0]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(r)))
    for t in tallies:
        for note, value in t.notes.items():
            print(
                f"  {t.key}: {note}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
            )
        for s in t.skipped:
            print(f"  {t.key}: skipped: {s}")
        for s in t.observations:
            print(f"  {t.key}: observed: {s}")
        for bad in t.unexpected[:12]:
            print(
                f"  {t.key}: UNEXPECTED {bad['case']}: {bad['why']} -- {bad.get('answer', bad.get('context', ''))[:240]}"
            )
        if len(t.unexpected) > 12:
            print(f"  {t.key}: ... and {len(t.unexpected) - 12} more unexpected")


async def run(args: argparse.Namespace) -> int:
    only = {s.strip() for s in args.only.split(",")} if args.only else {"1", "2", "3", "4", "5"}
    logs = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="chift-adversarial-"))
    logs.mkdir(parents=True, exist_ok=True)
    tokens = {
        n: f"cmcp_{n}_" + secrets.token_urlsafe(24)
        for n in (
            "admin",
            "bound",
            "reader",
            "disc_reader",
            "code_reader",
            "narrow",
            "narrow_disc",
            "bound_disc",
            "bound_code",
            "limited",
            "limited_code",
            "coder",
        )
    }
    tokens_file = logs / "tokens.json"
    tokens_file.write_text(json.dumps(token_entries(tokens), indent=1))
    # The default function config, plus insights (insights_query_db takes a header argument).
    config_file = logs / "function_config.json"
    config = json.loads((ROOT / "configs" / "default.json").read_text())
    config_file.write_text(json.dumps({**config, "insights": ["get"]}))
    sandbox = sandbox_proc(logs)
    procs: list[Proc] = [sandbox]
    tallies: dict[str, Tally] = {}
    began = time.monotonic()
    proxy: SniffingProxy | None = None
    try:
        await sandbox.start()
        proxy = SniffingProxy(sandbox.port)
        proxy_url = await proxy.start()
        main = server_proc(
            logs,
            "server-main",
            proxy_url,
            {"CHIFT_MCP_TOKENS_FILE": str(tokens_file), "CHIFT_FUNCTION_CONFIG": str(config_file)},
            ["--json-response"] if args.json_response else [],
        )
        await main.start()
        procs.append(main)
        http = httpx2.AsyncClient(timeout=60)
        ctx = Ctx(args, logs, http, Admin(sandbox.url), proxy, tokens, main, proxy_url, procs)
        ctx.secrets.update({f"MCP bearer {n}": tok for n, tok in tokens.items()})
        ctx.secrets["client secret"] = SANDBOX_CLIENT_SECRET
        for key, scenario in (
            ("1", scenario_scope),
            ("2", scenario_inputs),
            ("5", scenario_rate_limit),
            ("3", scenario_secrets),
            ("4", scenario_writes),
        ):
            if key in only:
                log(f"scenario {key} ...")
                started = time.monotonic()
                tallies[key] = await scenario(ctx)
                log(f"scenario {key}: {tallies[key].row()} in {time.monotonic() - started:.1f} s")
        for token in proxy.tokens:
            ctx.secrets.setdefault(f"access token {token[-6:]}", token)
        await http.aclose()
        await ctx.admin.aclose()
    finally:
        for proc in reversed(procs):
            proc.stop()
        if proxy is not None:
            await proxy.close()
    stderr = stderr_leaks(ctx, tallies.get("3"))
    ordered = [tallies[k] for k in sorted(tallies)]
    print_table(ordered)
    print(
        f"  stderr: {stderr['stderr lines']} lines from the servers at -vv, {stderr['secrets looked for']} secrets looked for, "
        f"{len(stderr['leaks'])} found; tracebacks: {stderr['tracebacks'] or 'none'}"
    )
    unexpected = sum(len(t.unexpected) for t in ordered)
    if "3" not in tallies:  # a leak in a log is unexpected whichever scenarios ran
        unexpected += len(stderr["leaks"])
    report = {
        "scenarios": {
            t.key: {
                "title": t.title,
                **t.row(),
                "notes": t.notes,
                "skipped": t.skipped,
                "observations": t.observations,
                "unexpected_cases": t.unexpected[:50],
            }
            for t in ordered
        },
        "stderr": stderr,
        "unexpected": unexpected,
        "seconds": round(time.monotonic() - began, 1),
        "args": {k: v for k, v in vars(args).items()},
        "monty": HAS_MONTY,
        "logs": str(logs),
    }
    print(json.dumps(report, ensure_ascii=False, default=str))
    if not args.keep and unexpected == 0:
        shutil.rmtree(logs, ignore_errors=True)
    elif unexpected:
        log(f"logs kept in {logs}")
    return 1 if unexpected else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="scenario 4: mixed tool calls in all")
    parser.add_argument("--sessions", type=int, default=8, help="scenario 4: concurrent MCP sessions")
    parser.add_argument(
        "--request-timeout", type=float, default=5.0, help="scenario 4: CHIFT_HTTP_REQUEST_TIMEOUT (seconds)"
    )
    parser.add_argument("--no-kill", action="store_true", help="scenario 4: no kill -9 and restart mid-load")
    parser.add_argument(
        "--no-hard-secret", action="store_true", help="scenario 3: skip the special-character secret"
    )
    parser.add_argument("--only", help="comma-separated scenarios to run (default 1,2,3,4,5)")
    parser.add_argument("--json-response", action="store_true", help="servers answer JSON instead of SSE")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="directory for the tokens file and the processes' stderr (kept)")
    parser.add_argument("--verbose", action="store_true", help="one line per attempt on stderr")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
