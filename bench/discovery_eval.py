"""Retrieval quality of the operation finder (``find_operations``): recall@1/5/10 and MRR@10.

    python bench/discovery_eval.py [--split dev|test|all] [--misses] [--baselines] [--vectors]

Tasks: ``bench/eval/discovery_tasks.jsonl`` (written blind from the spec and the docs, frozen, split
dev/test; see bench/eval/README.md). The finder ranks every endpoint tool of a caller allowed every
domain and kind (the hardest case: 220 operations). A task counts as found at k when one of its
operations is among the first k. Tasks whose operations are never tools (/token, /mcp-token) are
left out, and counted. ``--baselines`` adds BM25 over operationId + summary + description, and (with
the [search] extra) MiniLM vectors over the same text and their RRF. ``--misses`` lists the tasks
missed at 5 (refused on the test split: tune on dev only).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from chift_mcp.app import load_tools
from chift_mcp.openapi.operations import DOMAINS, KINDS
from chift_mcp.settings import Settings
from chift_mcp.tools.access import DEFAULT_FUNCTION_CONFIG, Access
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.finder import OperationFinder

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "bench" / "eval" / "discovery_tasks.jsonl"
Ranker = Callable[[str], Sequence[str]]  # query -> operation names, best first


def load_tasks(path: Path = TASKS, split: str = "dev") -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def every_operation() -> list[ToolSpec]:
    """The endpoint tools of a caller allowed every domain and kind."""
    from chift_mcp.tools.inventory import Inventory

    assert set(DEFAULT_FUNCTION_CONFIG) <= set(DOMAINS)
    access = Access.of({d: frozenset(KINDS) for d in DOMAINS})
    return list(Inventory(load_tools(Settings())).view(access).operations)


def scores(rank: Ranker, tasks: list[dict]) -> tuple[dict[str, dict[str, float]], list[float], list[dict]]:
    """Metrics per group (all, kind:..., lang:...), per-query seconds, and the misses at 5."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    times: list[float] = []
    missed = []
    for task in tasks:
        started = time.perf_counter()
        names = list(rank(task["q"]))[:10]
        times.append(time.perf_counter() - started)
        position = next((i for i, n in enumerate(names, 1) if n in task["ops"]), None)
        for group in ("all", f"kind:{task['kind']}", f"lang:{task['lang']}"):
            c = found[group]
            c["n"] += 1
            if position is not None:
                c["rr"] += 1.0 / position  # type: ignore[assignment]
                for k in (1, 5, 10):
                    c[f"R@{k}"] += position <= k
        if position is None or position > 5:
            missed.append({**task, "got": names[:5], "rank": position})
    table = {
        g: {
            "n": c["n"],
            **{f"R@{k}": c[f"R@{k}"] / c["n"] for k in (1, 5, 10)},
            "MRR@10": c["rr"] / c["n"],
        }
        for g, c in found.items()
    }
    return table, times, missed


def render(name: str, table: dict[str, dict[str, float]], times: list[float]) -> str:
    order = [
        "all",
        *sorted(g for g in table if g.startswith("kind:")),
        *sorted(g for g in table if g.startswith("lang:")),
    ]
    p50 = statistics.median(times) * 1000
    lines = [
        f"\n{name}  (p50 {p50:.2f} ms per query)",
        "| group | n | R@1 | R@5 | R@10 | MRR@10 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in order:
        m = table[g]
        lines.append(
            f"| {g} | {m['n']:.0f} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- baselines

_WORD = re.compile(r"[a-z0-9]+")


class PlainBM25:
    """BM25 over operationId + summary + description, no synonyms, no stemming: the naive baseline."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self.names = [t.name for t in tools]
        self.docs = [Counter(_WORD.findall(baseline_text(t).lower().replace("_", " "))) for t in tools]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / len(self.docs)
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def __call__(self, query: str) -> list[str]:
        terms = _WORD.findall(query.lower().replace("_", " "))
        scored = []
        for name, doc, length in zip(self.names, self.docs, self.lengths, strict=True):
            s = sum(
                self.idf[t] * doc[t] * 2.2 / (doc[t] + 1.2 * (0.25 + 0.75 * length / self.avg))
                for t in terms
                if t in doc
            )
            if s > 0:
                scored.append((s, name))
        return [n for _, n in sorted(scored, key=lambda p: (-p[0], p[1]))]


def baseline_text(tool: ToolSpec) -> str:
    op = tool.operation
    assert op is not None
    return f"{op.id} {op.summary} {op.description}"


def vector_ranker(tools: list[ToolSpec]) -> Ranker:
    import numpy as np

    from search_index.embed import make_embedder

    embedder = make_embedder(None)
    matrix = embedder.documents([baseline_text(t) for t in tools])
    names = [t.name for t in tools]

    def rank(query: str) -> list[str]:
        sims = matrix @ embedder.query(query)
        return [names[i] for i in np.argsort(-sims)]

    return rank


def rrf(*rankers: Ranker, k: int = 60) -> Ranker:
    def rank(query: str) -> list[str]:
        score: dict[str, float] = defaultdict(float)
        for r in rankers:
            for i, name in enumerate(list(r(query))[:50], 1):
                score[name] += 1 / (k + i)
        return sorted(score, key=lambda n: (-score[n], n))

    return rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    parser.add_argument(
        "--baselines", action="store_true", help="naive BM25 (and vectors, RRF with --vectors)"
    )
    parser.add_argument(
        "--vectors", action="store_true", help="vector baselines too (needs the [search] extra)"
    )
    parser.add_argument("--misses", action="store_true", help="the tasks missed at 5 (dev only)")
    parser.add_argument(
        "--lexical", action="store_true", help="the finder without vectors even when it could have them"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line of the finder's metrics")
    args = parser.parse_args()
    if args.misses and args.split != "dev":
        parser.error("--misses is for the dev split only: tune on dev, report test")
    tools = every_operation()
    names = {t.name for t in tools}
    tasks = load_tasks(split=args.split)
    reachable = [t for t in tasks if any(op in names for op in t["ops"])]
    print(
        f"{len(tools)} operations; {len(tasks)} {args.split} tasks, {len(tasks) - len(reachable)} left out (no tool)"
    )
    finder = OperationFinder(tools)
    ours: Ranker = lambda q: [t.name for _, t in finder.search(q, 10)]  # noqa: E731
    rankers: list[tuple[str, Ranker]] = [("find_operations", ours)]
    if args.baselines:
        bm25 = PlainBM25(tools)
        rankers.append(("baseline: BM25 over id + summary + description", bm25))
        if args.vectors:
            vec = vector_ranker(tools)
            rankers += [("baseline: MiniLM vectors", vec), ("baseline: RRF of both", rrf(bm25, vec))]
    for label, rank in rankers:
        table, times, missed = scores(rank, reachable)
        if args.json and label == "find_operations":
            print(
                json.dumps({"split": args.split, **table["all"], "p50_ms": statistics.median(times) * 1000})
            )
            continue
        print(render(label, table, times))
        if args.misses and label == "find_operations":
            print(f"\nmissed at 5 ({len(missed)}):")
            for m in missed:
                print(
                    f"  [{m['id']} {m['lang']} {m['kind']}] {m['q']}\n    want {m['ops']}\n    got  {m['got']} (rank {m['rank']})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
