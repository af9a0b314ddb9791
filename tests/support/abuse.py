"""Attacks on the HTTP door by one caller, against real processes on loopback, each measured in numbers:
what the attacker got, what another tenant got meanwhile, what it cost the server. Used by
``tests/adversarial/test_door_abuse.py`` (which asserts the goals) and ``bench/door_abuse.py`` (which
prints the numbers).

- :func:`session_flood`: ``initialize`` in a loop, by a rate-limited token and by one without a limit;
- :func:`consumer_headers`: a fresh made-up ``X-Chift-Consumer-Id`` on every request, then calls over the
  rate limit;
- :func:`slow_heads`: half-open request heads (no token) past the connection cap, and 1 MB header lines;
- :func:`drain`: SIGTERM while creates (and a program) wait on a slow Chift.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2

from chift_mcp.doors.http.tokens import hash_token
from support.adversary import DEMO, Admin, Mcp, Proc, Reply, sandbox_proc, server_proc

HAS_MONTY = importlib.util.find_spec("pydantic_monty") is not None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@asynccontextmanager
async def door(
    logs: Path,
    grants: dict[str, dict[str, Any]],
    env: dict[str, str] | None = None,
    *,
    max_files: int | None = None,
) -> AsyncIterator[tuple[Proc, Admin, dict[str, str], httpx2.AsyncClient]]:
    """The sandbox and ``chift-mcp http`` with one token per grant (``max_files``: the server's file
    descriptor limit); yields the server, the sandbox's admin routes, the bearers by name and an
    HTTP client."""
    logs.mkdir(parents=True, exist_ok=True)
    tokens = {n: f"cmcp_{n}_{i:04d}_" + "x" * 24 for i, n in enumerate(grants)}
    entries = [{"name": n, "token_sha256": hash_token(tokens[n]), **g} for n, g in grants.items()]
    (logs / "tokens.json").write_text(json.dumps(entries))
    sandbox = sandbox_proc(logs)
    server: Proc | None = None
    await sandbox.start()
    try:
        server = server_proc(
            logs,
            "server",
            sandbox.url,
            {"CHIFT_MCP_TOKENS_FILE": str(logs / "tokens.json"), **(env or {})},
            [],
        )
        if max_files is not None:
            limit = f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({max_files}, {max_files}))"
            server.cmd = [
                server.cmd[0],
                "-c",
                f"{limit}; import runpy, sys; sys.argv[0] = 'chift-mcp'; "
                "runpy.run_module('chift_mcp', run_name='__main__')",
                *server.cmd[3:],
            ]
        await server.start()
        async with httpx2.AsyncClient(timeout=60, limits=httpx2.Limits(max_connections=64)) as http:
            admin = Admin(sandbox.url)
            try:
                yield server, admin, tokens, http
            finally:
                await admin.aclose()
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()


async def sessions_metric(http: httpx2.AsyncClient, server: Proc) -> int:
    text = (await http.get(server.url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith("chift_mcp_sessions "):
            return int(float(line.split()[1]))
    return -1


async def initialize_loop(
    http: httpx2.AsyncClient, url: str, token: str, attempts: int, *, concurrency: int = 8, **headers: str
) -> Counter[str]:
    """``attempts`` initialize requests, ``concurrency`` at a time; their answers by kind."""
    kinds: Counter[str] = Counter()
    left = iter(range(attempts))

    async def worker() -> None:
        for _ in left:
            reply = await Mcp(http, url, token, headers).post(
                Mcp(http, url, token).request("initialize", INIT)
            )
            refusal = reply.headers.get("x-chift-refusal")
            kinds[f"{reply.status} {refusal}" if refusal else reply.kind] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return kinds


INIT = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "abuse", "version": "1"}}


async def tenant_call(http: httpx2.AsyncClient, url: str, token: str, **headers: str) -> dict[str, Any]:
    """Another tenant meanwhile: initialize, then one read."""
    client = Mcp(http, url, token, headers)
    started = time.monotonic()
    opened = await client.open()
    called = await client.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    await client.close()
    return {"initialize": opened.kind, "call": called.kind, "ms": round((time.monotonic() - started) * 1000)}


async def session_flood(logs: Path, *, attempts: int = 1500) -> dict[str, Any]:
    """F1: one read-only token bound to one consumer (5 calls a minute), then one without a rate limit,
    each sending ``attempts`` initialize requests; another tenant opens a session and calls meanwhile."""
    grants = {
        "flooder": {"read_only": True, "consumer_id": DEMO, "rate_limit": 5},
        "unlimited": {"read_only": True, "consumer_id": DEMO},
        "tenant": {},
    }
    async with door(logs, grants) as (server, _, tokens, http):
        url = server.url + "/mcp"
        rss_before = rss_mb(server.proc.pid)  # type: ignore[union-attr]
        out: dict[str, Any] = {"attempts per token": attempts, "rss_before_mb": rss_before}
        for name in ("flooder", "unlimited"):
            started = time.monotonic()
            flood = asyncio.create_task(initialize_loop(http, url, tokens[name], attempts))
            await asyncio.sleep(0.5)
            during = await tenant_call(http, url, tokens["tenant"])
            kinds = await flood
            out[name] = {
                "answers": dict(kinds),
                "seconds": round(time.monotonic() - started, 1),
                "tenant during": during,
                "sessions open after": await sessions_metric(http, server),
            }
        out["tenant after"] = await tenant_call(http, url, tokens["tenant"])
        out["rss_after_mb"] = rss_mb(server.proc.pid)  # type: ignore[union-attr]
        return out


async def consumer_headers(logs: Path, *, headers: int = 100) -> dict[str, Any]:
    """F4: an unbound token with a rate limit of 5 opens one session, then sends ``headers`` calls,
    each with a fresh made-up ``X-Chift-Consumer-Id``; then 20 calls for a real consumer (most over
    its limit). What reached Chift each time."""
    grants = {"unbound": {"read_only": True, "rate_limit": 5}}
    async with door(logs, grants) as (server, admin, tokens, http):
        url = server.url + "/mcp"
        client = Mcp(http, url, tokens["unbound"])
        await client.open()
        mark = await admin.mark()
        started = time.monotonic()

        async def made_up(i: int) -> Reply:
            header = client.headers(**{"X-Chift-Consumer-Id": f"made-up-{i:04d}"})
            return await client.call("accounting_get_clients", {"limit": 1}, header)

        replies = []
        for batch in range(0, headers, 10):  # 10 at a time, as a client with parallel calls would
            replies += await asyncio.gather(*(made_up(i) for i in range(batch, min(batch + 10, headers))))
        seconds = time.monotonic() - started
        kinds = Counter(r.headers.get("x-chift-refusal") or r.kind for r in replies)
        sent = await admin.since(mark, everything=True)
        await client.close()
        real = Mcp(http, url, tokens["unbound"], {"X-Chift-Consumer-Id": DEMO})
        await real.open()
        mark = await admin.mark()
        answers: Counter[str] = Counter()
        for _ in range(20):
            answers[(await real.call("accounting_get_clients", {"limit": 1})).kind] += 1
        later = await admin.since(mark, everything=True)
        await real.close()
        return {
            "made-up headers": headers,
            "answers": dict(kinds),
            "seconds": round(seconds, 2),
            "consumer lists fetched": sum(e["path"].rstrip("/") == "/consumers" for e in sent),
            "connection lookups": sum("/connections" in e["path"] for e in sent),
            "calls for a real consumer": dict(answers),
            "requests at Chift for them": len([e for e in later if "/accounting/" in e["path"]]),
            "connection lookups for them": sum("/connections" in e["path"] for e in later),
        }


async def _half_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    return reader, writer


async def _closed_after(reader: asyncio.StreamReader, since: float, limit: float) -> float | None:
    """Seconds until the server closed the connection (None: still open after ``limit``)."""
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        await asyncio.wait_for(reader.read(), timeout=max(0.1, since + limit - time.monotonic()))
        return time.monotonic() - since
    return None


async def slow_heads(logs: Path, *, heads: int = 1100, big_headers: int = 20) -> dict[str, Any]:
    """F6: ``heads`` connections that send half a request head and nothing more (no token) to a server
    whose file descriptor limit is 1,024, a probe and a valid call meanwhile; then ``big_headers``
    requests with a 1 MB header line."""
    grants = {"tenant": {}}
    async with door(logs, grants, max_files=1024) as (server, _, tokens, http):  # a common default
        port = int(server.url.rsplit(":", 1)[1])
        pid = server.proc.pid  # type: ignore[union-attr]
        rss_before = rss_mb(pid)
        started = time.monotonic()
        opened = [await _half_open(port) for _ in range(heads)]
        seconds_to_open = time.monotonic() - started
        try:
            probe = (await http.get(server.url + "/healthz", timeout=10)).status_code
        except httpx2.HTTPError as exc:
            probe = type(exc).__name__
        during = await tenant_call(http, server.url + "/mcp", tokens["tenant"])
        closed = await asyncio.gather(*(_closed_after(r, started, 90) for r, _ in opened))
        for _, writer in opened:
            writer.close()
        still_open = sum(c is None for c in closed)
        times = sorted(c for c in closed if c is not None)
        rss_heads = rss_mb(pid)
        big: Counter[str] = Counter()
        for _ in range(big_headers):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 1_048_576 + b"\r\n\r\n"
                )
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 10)
                big[line.decode(errors="replace").strip() or "closed"] += 1
            except (TimeoutError, ConnectionError) as exc:
                big[type(exc).__name__] += 1
            finally:
                writer.close()
        return {
            "half-open heads": heads,
            "seconds to open them": round(seconds_to_open, 1),
            "/healthz meanwhile": probe,
            "tenant meanwhile": during,
            "closed by the server": heads - still_open,
            "still open after 90 s": still_open,
            "seconds to close, median / max": [
                round(times[len(times) // 2], 1) if times else None,
                round(times[-1], 1) if times else None,
            ],
            "1 MB header lines": dict(big),
            "rss_mb before / after heads / after big headers": [rss_before, rss_heads, rss_mb(pid)],
        }


async def drain(logs: Path, *, creates: int = 12, latency: float = 7.0) -> dict[str, Any]:
    """F7: ``creates`` creates (8 reach Chift at once, the others queue) and, with code mode, one
    program that creates, while every create takes ``latency`` s at Chift; SIGTERM 1 s later."""
    grants = {"writer": {}, "coder": {"tool_mode": "code"}}
    # Chift's slowness, not the client's timeout, decides: a create's one attempt waits for it.
    async with door(logs, grants, {"CHIFT_TIMEOUT": str(latency + 20)}) as (server, admin, tokens, http):
        url = server.url + "/mcp"
        await admin.fault(match="accounting_create_client", kind="latency", latency=latency, times=0)
        clients = [Mcp(http, url, tokens["writer"]) for _ in range(creates)]
        for client in clients:
            await client.open()
        calls = [
            client.call(
                "accounting_create_client", {"consumer_id": DEMO, "name": f"drain {i}", "addresses": []}
            )
            for i, client in enumerate(clients)
        ]
        if HAS_MONTY:
            coder = Mcp(http, url, tokens["coder"])
            await coder.open()
            program = f"accounting_create_client(consumer_id={DEMO!r}, name='drain program', addresses=[])"
            calls.append(coder.call("execute", {"code": program}))
        tasks = [asyncio.create_task(c) for c in calls]
        await asyncio.sleep(1.0)
        assert server.proc is not None
        sigterm = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        replies: list[Reply] = list(await asyncio.gather(*tasks))
        answered_in = time.monotonic() - sigterm
        exit_code = await asyncio.to_thread(server.proc.wait, 30)
        exited_in = time.monotonic() - sigterm
        kinds = Counter(r.kind for r in replies)
        with_id = sum(
            1
            for r in replies
            if r.kind != "ok" and ("client_request_id" in r.payload or "client_request_id" in r.text)
        )
        empty = sum(1 for r in replies if r.status == 200 and r.message is None)
        return {
            "creates": creates,
            "program": HAS_MONTY,
            "answers": dict(kinds),
            "errors with a client_request_id": with_id,
            "errors": sum(v for k, v in kinds.items() if k != "ok"),
            "empty 200s": empty,
            "seconds from SIGTERM to the last answer": round(answered_in, 1),
            "seconds from SIGTERM to exit": round(exited_in, 1),
            "exit code": exit_code,
            "replies": [r.text[:300] for r in replies if r.kind not in ("ok", "tool:CHIFT_UNREACHABLE")][:5],
        }
