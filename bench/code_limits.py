"""Code mode under abuse: one token's programs must not starve, block or evict another tenant's.

    python bench/code_limits.py [--scenario starve|bomb|both] [--bomb 22,30] [--env CHIFT_X=v ...] [--json]

A real server (``chift-mcp http``, code mode, two bearer tokens: ``hog`` and ``victim``) over a
sandbox process, both on loopback; every client is the MCP SDK's over streamable HTTP.

- **starve**: ``hog`` starts three endless programs (``while True: pass``) at once; one second later
  ``victim`` runs ``1 + 1`` three times and a program that needs about one second four times (its
  time alone is measured first). Reported: each answer's time and error code, and how the hog's
  programs ended.
- **bomb**: ``hog`` returns ``x=[1]; for i in range(N): x=[x,x]`` (a few bytes in the interpreter,
  2^N items once expanded), and passes it as an operation argument (``fields=x``); meanwhile
  ``victim`` calls ``find_operations`` (no worker) every 0.2 s. Reported: the bomb's answer and
  time, the victim's slowest call, and the server's peak RSS (``VmHWM``) after each bomb.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.processes import free_port, server_env

from chift_mcp.doors.http.tokens import hash_token

HOG = "cmcp_bench_hog_token_000000000000000000000"
VICTIM = "cmcp_bench_victim_token_0000000000000000000"
ENDLESS = "while True:\n    pass"
WORK = "n = 0\nfor i in range({k}):\n    n += i\nn"


def bomb(n: int, as_argument: bool = False) -> str:
    grow = f"x = [1]\nfor i in range({n}):\n    x = [x, x]\n"
    return grow + ("accounting_get_clients(limit=1, fields=x)" if as_argument else "x")


def start(cmd: list[str], env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited: {log.read_text()[-2000:]}")
        try:
            httpx2.get(url, timeout=1)
            return proc
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@asynccontextmanager
async def client(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as c,  # type: ignore[arg-type]
    ):
        yield c


async def timed(c: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with anyio.fail_after(150):
            result = await c.call_tool(tool, args)
        text = result.content[0].text  # type: ignore[union-attr]
        body = json.loads(text) if text.startswith("{") else {"text": text[:200]}
        code = body.get("error") if result.is_error else "ok"
        extra = {k: body[k] for k in ("limit", "setting", "message") if k in body and result.is_error}
    except Exception as exc:  # a transport failure or our own timeout: what the victim would see
        code, extra = f"client:{type(exc).__name__}", {}
    return {"tool": tool, "seconds": round(time.perf_counter() - started, 2), "code": code, **extra}


async def starve(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with client(url, VICTIM) as v:
        await timed(v, "execute", {"code": "1 + 1"})  # a warm worker, a warm session
        k = 7_000_000
        alone = await timed(v, "execute", {"code": WORK.format(k=k)})
        out["victim_program_alone_s"] = alone["seconds"]
    hog_results: list[dict[str, Any]] = []
    victim: list[dict[str, Any]] = []

    async def hog_one() -> None:
        async with client(url, HOG) as h:
            hog_results.append(await timed(h, "execute", {"code": ENDLESS}))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(hog_one)
        await anyio.sleep(1.0)
        async with client(url, VICTIM) as v:
            for _ in range(3):
                victim.append(await timed(v, "execute", {"code": "1 + 1"}))
            work = [await timed(v, "execute", {"code": WORK.format(k=k)}) for _ in range(4)]
    out.update(victim_one_plus_one=victim, victim_program=work, hog=hog_results)
    return out


async def bombs(url: str, sizes: list[int], pid: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for as_argument in (False, True):
            latencies: list[float] = []
            done = anyio.Event()

            async def victim(done: anyio.Event, latencies: list[float]) -> None:
                async with client(url, VICTIM) as v:
                    while not done.is_set():
                        r = await timed(v, "find_operations", {"query": "list clients"})
                        latencies.append(r["seconds"])
                        await anyio.sleep(0.2)

            async with anyio.create_task_group() as tg:
                tg.start_soon(victim, done, latencies)
                await anyio.sleep(0.5)
                async with client(url, HOG) as h:
                    answer = await timed(h, "execute", {"code": bomb(n, as_argument)})
                done.set()
            rows.append(
                {
                    "n": n,
                    "where": "argument" if as_argument else "value",
                    **answer,
                    "victim_calls": len(latencies),
                    "victim_slowest_s": max(latencies) if latencies else None,
                    "server_peak_rss_mb": round(peak_rss_mb(pid)),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=["starve", "bomb", "both"], default="both")
    parser.add_argument("--bomb", default="22,30", help="comma-separated N of the bombs, in order")
    parser.add_argument("--env", action="append", default=[], help="CHIFT_X=v for the server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="code-limits-"))
    tokens = logs / "tokens.json"
    tokens.write_text(
        json.dumps(
            [
                {"name": name, "token_sha256": hash_token(tok), "tool_mode": "code"}
                for name, tok in (("hog", HOG), ("victim", VICTIM))
            ]
        )
    )
    sandbox_port, port = free_port(), free_port()
    plain = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    sandbox = start(
        [sys.executable, "-m", "chift_mcp", "sandbox", "--port", str(sandbox_port)],
        plain,
        f"http://127.0.0.1:{sandbox_port}/_sandbox/health",
        logs / "sandbox.log",
    )
    extra = dict(e.split("=", 1) for e in args.env)
    env = server_env(f"http://127.0.0.1:{sandbox_port}", CHIFT_MCP_TOKENS_FILE=str(tokens), **extra)
    server = start(
        [sys.executable, "-m", "chift_mcp", "http", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/healthz",
        logs / "server.log",
    )
    url = f"http://127.0.0.1:{port}/mcp"
    report: dict[str, Any] = {"cpus": os.cpu_count(), "env": extra}
    try:
        if args.scenario in ("starve", "both"):
            report["starve"] = anyio.run(starve, url)
        if args.scenario in ("bomb", "both"):
            report["bomb"] = anyio.run(bombs, url, [int(n) for n in args.bomb.split(",")], server.pid)
    finally:
        stop(server)
        stop(sandbox)
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
