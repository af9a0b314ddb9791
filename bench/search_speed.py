"""Docs search speed: full build, warm query latency, first query after start-up.

    python bench/search_speed.py [--source PATH] [--runs 3] [--skip-build]

- build: ``python -m search_index build --force`` over the full corpus in a fresh process (imports,
  model load, parse, embed, write, full-text index), wall clock, median of ``--runs``.
- warm query: one process, index open, the dev split of ``bench/eval/docs_questions.jsonl`` and the
  team's 56 questions, three times over (579 queries, a quarter of them French); p50 and p95.
- first query after start-up: spawn ``chift-mcp --sandbox`` over stdio with CHIFT_SEARCH=true and the
  built index, initialize, call search_chift at once; seconds from the call to its answer, and from
  the spawn. Also the one-shot CLI (``python -m search_index query``) wall clock.

Run from the repository root with the [search] and dev extras installed; HF_HUB_OFFLINE=1 is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_eval import DEFAULT_SOURCE, FROZEN, load_questions  # noqa: E402


def timed_build(source: str, index: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "search_index",
            "build",
            "--source",
            source,
            "--index",
            index,
            "--force",
            "--no-progress",
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def warm_latency(index: str) -> dict[str, float]:
    from search_index import SearchIndex

    started = time.perf_counter()
    opened = SearchIndex.open(index)
    opened.search("warm up", 5)
    opened_in = time.perf_counter() - started
    questions = [q["q"] for q in load_questions(FROZEN, "dev") + load_questions()]
    times = []
    for _ in range(3):
        for question in questions:
            started = time.perf_counter()
            opened.search(question, 5)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "queries": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * len(times)) - 1], 1),
        "open_s": round(opened_in, 2),
    }


async def first_query_over_mcp(index: str) -> dict[str, float]:
    import anyio
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    env.update({"CHIFT_SEARCH": "true", "CHIFT_SEARCH_INDEX": index, "HF_HUB_OFFLINE": "1"})
    params = StdioServerParameters(command=sys.executable, args=["-m", "chift_mcp", "--sandbox"], env=env)
    spawned = time.perf_counter()
    with anyio.fail_after(120):
        async with Client(params, mode="legacy") as client:
            ready = time.perf_counter()
            result = await client.call_tool("search_chift", {"query": "How do I verify a webhook signature?"})
            answered = time.perf_counter()
            second = time.perf_counter()
            await client.call_tool("search_chift", {"query": "pagination limits"})
            again = time.perf_counter()
    body = json.loads(result.content[0].text)
    if result.is_error:
        raise RuntimeError(f"search_chift failed: {body}")
    return {
        "initialized_s": round(ready - spawned, 2),
        "first_call_to_answer_s": round(answered - ready, 2),
        "spawn_to_first_answer_s": round(answered - spawned, 2),
        "second_call_ms": round((again - second) * 1000, 1),
        "top_url": body["results"][0]["url"],
    }


def cli_query(index: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "search_index", "query", "--index", index, "--k", "5", "rate limits"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--index", default=None, help="reuse this index (with --skip-build)")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    import anyio

    index = args.index or tempfile.mkdtemp(prefix="chift-search-bench-")
    report: dict[str, object] = {"cores": os.cpu_count()}
    if not args.skip_build:
        builds = [timed_build(args.source, index) for _ in range(args.runs)]
        report["build_s"] = {
            "median": round(statistics.median(builds), 1),
            "runs": [round(b, 1) for b in builds],
        }
    report["warm_query"] = warm_latency(index)
    firsts = [anyio.run(first_query_over_mcp, index) for _ in range(args.runs)]
    report["first_query_mcp"] = {
        key: statistics.median(f[key] for f in firsts)  # type: ignore[misc]
        for key in ("initialized_s", "first_call_to_answer_s", "spawn_to_first_answer_s", "second_call_ms")
    }
    report["first_query_mcp"]["top_url"] = firsts[0]["top_url"]  # type: ignore[index]
    report["cli_query_s"] = round(statistics.median(cli_query(index) for _ in range(args.runs)), 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
