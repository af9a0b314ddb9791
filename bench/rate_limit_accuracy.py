"""How exactly the per-token rate limit holds: calls allowed per minute against the limit set.

    python bench/rate_limit_accuracy.py [--limit 120] [--rate 6] [--seconds 150] [--replicas 2] [--redis]

Starts the sandbox Chift API, ``--replicas`` ``chift-mcp http --stateless --json-response`` processes
with one token whose ``rate_limit`` is ``--limit``, and (``--redis``) a redis-server on a free loopback
port that they share (``CHIFT_RATE_LIMIT_STORAGE``); without it each replica counts in memory. A client
sends ``--rate`` tool calls per second for ``--seconds``, round robin over the replicas, and records when
each allowed call was sent. Prints one JSON line: the most calls allowed in any 60-second window (the
limit says at most ``--limit``), the calls allowed in each whole minute from the start, and the mean
allowed per minute against the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from common import DEMO_CONSUMER, running_sandbox, server_env
from http_load import start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chift_mcp.doors.http.tokens import hash_token


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


async def drive(urls: list[str], token: str, rate: float, seconds: float) -> tuple[list[float], int]:
    allowed: list[float] = []
    refused = 0
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    async with httpx2.AsyncClient(timeout=30) as http:

        async def one(i: int, sent: float) -> None:
            nonlocal refused
            body = {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {
                    "name": "accounting_get_clients",
                    "arguments": {"consumer_id": DEMO_CONSUMER, "limit": 1},
                },
            }
            resp = await http.post(urls[i % len(urls)] + "/mcp", json=body, headers=headers)
            result = resp.json()["result"]
            if result["isError"]:
                assert result["structuredContent"]["error"] == "RATE_LIMITED", result
                refused += 1
            else:
                allowed.append(sent)

        start = time.monotonic()
        tasks = []
        for i in range(int(rate * seconds)):
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tasks.append(asyncio.create_task(one(i, time.monotonic() - start)))
        await asyncio.gather(*tasks)
    return sorted(allowed), refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=120, help="the token's rate_limit (calls per minute)")
    parser.add_argument("--rate", type=float, default=6.0, help="calls sent per second (above the limit)")
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--redis", action="store_true", help="the replicas share their counts in Redis")
    args = parser.parse_args()

    token = "cmcp_" + secrets.token_urlsafe(32)
    work = Path(tempfile.mkdtemp())
    tokens = work / "tokens.json"
    tokens.write_text(
        json.dumps([{"name": "bench", "token_sha256": hash_token(token), "rate_limit": args.limit}])
    )
    redis, redis_url = start_redis() if args.redis else (None, "")
    servers = []
    try:
        with running_sandbox() as sandbox:
            extra = {"CHIFT_MCP_TOKENS_FILE": str(tokens)}
            if redis_url:
                extra["CHIFT_RATE_LIMIT_STORAGE"] = redis_url
            env = server_env(sandbox, **extra)
            urls = []
            for _ in range(args.replicas):
                proc, url = start_server(env, ["http", "--stateless", "--json-response"])
                servers.append(proc)
                urls.append(url)
            allowed, refused = asyncio.run(drive(urls, token, args.rate, args.seconds))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)
        if redis is not None:
            redis.terminate()
            redis.wait(10)
    # The most allowed calls in any 60 s window: each window starting at an allowed call.
    most = max((bisect.bisect_left(allowed, t + 60) - i for i, t in enumerate(allowed)), default=0)
    minutes = [
        bisect.bisect_left(allowed, 60 * (m + 1)) - bisect.bisect_left(allowed, 60 * m)
        for m in range(int(args.seconds // 60))
    ]
    print(
        json.dumps(
            {
                "limit_per_minute": args.limit,
                "storage": "redis" if args.redis else "memory (per replica)",
                "replicas": args.replicas,
                "sent_per_s": args.rate,
                "seconds": args.seconds,
                "allowed": len(allowed),
                "refused": refused,
                "most_in_any_60s": most,
                "allowed_each_whole_minute": minutes,
                "mean_allowed_per_minute": round(len(allowed) / (args.seconds / 60), 1),
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
