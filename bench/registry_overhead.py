"""The registry's own cost per call, in process (no MCP, no stdio): Registry.call vs the bare client.

    python bench/registry_overhead.py [--n 200] [--limit 50]

Both run against the sandbox Chift API on a loopback port with the same request (page 1, size
``limit`` of accounting clients); the difference is validation, paging, pruning and shaping.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import anyio
from common import DEMO_CONSUMER, running_sandbox

from chift_mcp.app import Runtime
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings


async def measure(url: str, n: int, limit: int) -> dict[str, float]:
    settings = Settings(
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        account_id=SANDBOX_ACCOUNT_ID,
        url_base=url,
    )
    runtime = Runtime.open(settings)
    scope = await runtime.access.current()
    args = {"consumer_id": DEMO_CONSUMER, "limit": limit}
    path = f"/consumers/{DEMO_CONSUMER}/accounting/clients"
    registry_ms, client_ms = [], []
    for _ in range(20):  # warm both, and the sandbox's answer cache
        await runtime.registry.call("accounting_get_clients", args, scope)
    for _ in range(n):  # interleaved so that machine noise hits both alike
        start = time.perf_counter()
        await runtime.registry.call("accounting_get_clients", args, scope)
        registry_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await runtime.client.request("GET", path, params={"page": 1, "size": limit})
        client_ms.append((time.perf_counter() - start) * 1000)
    await runtime.aclose()
    return {
        "registry_call_p50_ms": round(statistics.median(registry_ms), 2),
        "client_request_p50_ms": round(statistics.median(client_ms), 2),
        "registry_overhead_p50_ms": round(statistics.median(registry_ms) - statistics.median(client_ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    with running_sandbox() as url:
        result = anyio.run(measure, url, args.n, args.limit)
    print(json.dumps({"n": args.n, "limit": args.limit, **result}))


if __name__ == "__main__":
    main()
