"""Load on the HTTP door: N concurrent MCP sessions x M tool calls, on loopback.

    python bench/http_load.py [--sessions 10] [--calls 200] [--rounds 3] [--stateless] [--json-response]
                              [--inproc-sandbox] [--replicas 1] [--rate-limit N]

Starts the sandbox Chift API (``chift-mcp sandbox --port P``, its own process; or ``--inproc-sandbox``:
``chift-mcp --sandbox http``, the sandbox inside the server process) and ``chift-mcp http`` with a
bearer token, then drives it with plain httpx2 JSON-RPC clients (initialize, notifications/initialized,
then ``tools/call accounting_get_clients`` in a loop; SSE or JSON answers) so the client costs as little
CPU as possible on this machine. Every call's answer is checked (not isError, the items asked for).

Prints one JSON line: calls/s, p50/p90/p99/max latency (ms), errors, and the server's RSS before the
load (after a warm-up) and after all rounds. ``--rounds`` runs the load several times on the same
servers and shows the median round; each round's figures and the 1-minute load average before it are
listed too (on a shared machine, other work shows there). The goal on a 2-core machine: >= 400 calls/s, p99 <= 50 ms, 0
errors, flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
from common import DEMO_CONSUMER, SERVER, running_sandbox, server_env

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = "2025-06-18"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children() -> dict[int, str]:
    """This process's children: pid -> command line (the sandbox and the servers)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                out[int(stat.parent.name)] = (
                    (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError):
            continue
    return out


def own_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*SERVER, *args, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"chift-mcp http exited with {proc.returncode}")
        try:
            if httpx2.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("chift-mcp http did not start")
        time.sleep(0.05)


def decode(resp: httpx2.Response) -> dict[str, Any]:
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        for line in resp.text.splitlines():
            if line.startswith("data:"):
                data = json.loads(line[5:])
                if "id" in data:
                    return dict(data)
        raise ValueError("no JSON-RPC answer in the SSE stream")
    return dict(resp.json())


class Session:
    def __init__(self, http: httpx2.AsyncClient, url: str, token: str) -> None:
        self.http = http
        self.url = url + "/mcp"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self.next_id = 0

    async def open(self) -> None:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "http_load", "version": "1"},
            },
        }
        resp = await self.http.post(self.url, json=init, headers=self.headers)
        resp.raise_for_status()
        decode(resp)
        session = resp.headers.get("mcp-session-id")
        if session:
            self.headers["Mcp-Session-Id"] = session
        self.headers["Mcp-Protocol-Version"] = PROTOCOL
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        (await self.http.post(self.url, json=note, headers=self.headers)).raise_for_status()

    async def close(self) -> None:
        """End the session as a client does (DELETE), so rounds do not pile sessions up."""
        if "Mcp-Session-Id" in self.headers:
            await self.http.delete(self.url, headers=self.headers)

    async def call(self, limit: int) -> bool:
        self.next_id += 1
        body = {
            "jsonrpc": "2.0",
            "id": self.next_id,
            "method": "tools/call",
            "params": {
                "name": "accounting_get_clients",
                "arguments": {"consumer_id": DEMO_CONSUMER, "limit": limit},
            },
        }
        resp = await self.http.post(self.url, json=body, headers=self.headers)
        if resp.status_code != 200:
            return False
        result = decode(resp).get("result") or {}
        items = (result.get("structuredContent") or {}).get("items")
        return not result.get("isError") and isinstance(items, list) and len(items) == limit


async def drive(urls: list[str], token: str, sessions: int, calls: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx2.Limits(max_connections=sessions, max_keepalive_connections=sessions)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as http:
        opened = [Session(http, urls[i % len(urls)], token) for i in range(sessions)]
        await asyncio.gather(*(s.open() for s in opened))

        async def run(session: Session) -> None:
            nonlocal errors
            for i in range(calls):
                start = time.perf_counter()
                try:
                    ok = await session.call(1 + i % 5)
                except httpx2.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1000)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(run(s) for s in opened))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*(s.close() for s in opened))
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "calls": len(latencies),
        "seconds": round(elapsed, 2),
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1], 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="concurrent MCP sessions")
    parser.add_argument("--calls", type=int, default=200, help="tool calls per session")
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--json-response", action="store_true")
    parser.add_argument("--inproc-sandbox", action="store_true", help="the sandbox inside the server process")
    parser.add_argument("--replicas", type=int, default=1, help="server processes, sessions spread evenly")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds on the same servers; the median is shown"
    )
    parser.add_argument(
        "--rate-limit", type=int, help="CHIFT_MCP_RATE_LIMIT for the token (set it high to measure its cost)"
    )
    args = parser.parse_args()

    token = "cmcp_" + secrets.token_urlsafe(32)
    flags = (
        ["http"]
        + (["--stateless"] if args.stateless else [])
        + (["--json-response"] if args.json_response else [])
    )
    sandbox_ctx = running_sandbox() if not args.inproc_sandbox else None
    sandbox_url = sandbox_ctx.__enter__() if sandbox_ctx else None
    servers: list[subprocess.Popen[bytes]] = []
    extra = {"CHIFT_MCP_RATE_LIMIT": str(args.rate_limit)} if args.rate_limit else {}
    try:
        if sandbox_url:
            env = server_env(sandbox_url, CHIFT_MCP_TOKEN=token, **extra)
            cmd = flags
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
            env.update(CHIFT_MCP_TOKEN=token, **extra)
            cmd = ["--sandbox", *flags]
        urls = []
        for _ in range(args.replicas):
            proc, url = start_server(env, cmd)
            servers.append(proc)
            urls.append(url)
        asyncio.run(drive(urls, token, min(args.sessions, 4), 20))  # warm-up: caches, token, imports
        before = [rss_mb(p.pid) for p in servers]
        procs = {pid: "sandbox" if " sandbox " in f"{cmd} " else "server" for pid, cmd in children().items()}
        rounds = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            cpu0 = {pid: cpu_s(pid) for pid in procs}
            own0 = own_cpu_s()
            result = asyncio.run(drive(urls, token, args.sessions, args.calls))
            cpu = {"client": own_cpu_s() - own0}
            for pid, role in procs.items():
                cpu[role] = cpu.get(role, 0.0) + cpu_s(pid) - cpu0[pid]
            result["cpu_ms_per_call"] = {k: round(v * 1000 / result["calls"], 2) for k, v in cpu.items()}
            result["load_avg_1m_before"] = round(load, 2)
            rounds.append(result)
        after = [rss_mb(p.pid) for p in servers]
        # The round with the median calls/s (the machine may be shared: every round is in "rounds").
        report = dict(sorted(rounds, key=lambda r: r["calls_per_s"])[len(rounds) // 2])
        report["errors_all_rounds"] = sum(r["errors"] for r in rounds)
        report["rounds"] = [
            {k: r[k] for k in ("calls_per_s", "p50_ms", "p99_ms", "errors", "load_avg_1m_before")}
            for r in rounds
        ]
        report.update(
            sessions=args.sessions,
            calls_per_session=args.calls,
            mode=("stateless" if args.stateless else "stateful")
            + (", json" if args.json_response else ", sse"),
            sandbox="in-process" if args.inproc_sandbox else "separate process",
            replicas=args.replicas,
            rate_limit=args.rate_limit,
            rss_before_mb=before,
            rss_after_mb=after,
            cores=os.cpu_count(),
        )
        print(json.dumps(report))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)
        if sandbox_ctx:
            sandbox_ctx.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
