"""Tool-call overhead and peak memory, against the sandbox Chift API on a loopback port.

    python bench/call_overhead.py [--n 200]

Compares the p50 latency of the same request made directly with httpx2 (token fetched once, kept
alive connection) and through `chift-mcp` over stdio (mcp_probe's tools/call loop). The overhead is
the difference of the medians (goal <= 3 ms). Also prints the server's peak RSS (goal <= 120 MB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx2
from common import DEMO_CONSUMER, SERVER, probe, running_sandbox, server_env
from support.processes import sandbox_token

PATH = f"/consumers/{DEMO_CONSUMER}/accounting/clients"


def direct(url: str, n: int) -> list[float]:
    with httpx2.Client(base_url=url, timeout=10) as http:
        token = sandbox_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        lat = []
        for _ in range(n):
            start = time.perf_counter()
            http.get(PATH, params={"page": 1, "size": 50}, headers=headers).raise_for_status().json()
            lat.append((time.perf_counter() - start) * 1000)
    return lat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating direct/MCP rounds")
    args = parser.parse_args()
    call = [
        "--call",
        "accounting_get_clients",
        "--args",
        json.dumps({"consumer_id": DEMO_CONSUMER}),
        "--n",
        str(args.n),
    ]
    rounds = []
    with running_sandbox() as url:
        direct(url, 20)  # warm the sandbox's caches
        for _ in range(args.rounds):
            direct_p50 = statistics.median(direct(url, args.n))
            via = probe([*SERVER], server_env(url), *call)
            rounds.append(
                (direct_p50, via["call_ms_p50"], via.get("server_peak_rss_mb", 0.0), via["stdout_junk_lines"])
            )
    overheads = sorted(v - d for d, v, _, _ in rounds)
    result = {
        "n": args.n,
        "rounds": args.rounds,
        "direct_httpx2_p50_ms": round(statistics.median(r[0] for r in rounds), 2),
        "mcp_call_p50_ms": round(statistics.median(r[1] for r in rounds), 2),
        "overhead_p50_ms_median_of_rounds": round(statistics.median(overheads), 2),
        "overhead_p50_ms_range": [round(overheads[0], 2), round(overheads[-1], 2)],
        "server_peak_rss_mb_max": max(r[2] for r in rounds),
        "stdout_junk_lines": sum(r[3] for r in rounds),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
