"""Retrieval quality of the docs search: recall@1/5/10 and MRR@10 for BM25, vectors and hybrid.

    python bench/search_eval.py [--index DIR] [--source PATH] [--model NAME] [--sweep]

Questions: ``bench/search_questions.jsonl`` (paraphrased developer questions, some in French, each
with the docs page paths that answer it). A question counts as found at k when one of its pages is
among the first k results (results hold one passage per page). ``--sweep`` rebuilds the index for
several chunk sizes and overlaps and prints one table per setting (slow: one build each).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search_index import SearchIndex, build_index  # noqa: E402
from search_index.corpus import page_path  # noqa: E402
from search_index.embed import make_embedder  # noqa: E402

QUESTIONS = ROOT / "bench" / "search_questions.jsonl"
DEFAULT_SOURCE = ROOT / "../shared/chift-docs/llms-full.txt"
MODES = ("bm25", "vector", "hybrid")


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(index: SearchIndex, questions: list[dict], mode: str) -> dict[str, float]:
    found = {1: 0, 5: 0, 10: 0}
    rr = 0.0
    for q in questions:
        hits = index.search(q["q"], k=10, mode=mode)  # type: ignore[arg-type]
        paths = [page_path(h.url) for h in hits]
        rank = next((i for i, p in enumerate(paths, 1) if p in q["pages"]), None)
        if rank is not None:
            rr += 1.0 / rank
            for k in found:
                found[k] += rank <= k
    n = len(questions)
    return {"R@1": found[1] / n, "R@5": found[5] / n, "R@10": found[10] / n, "MRR@10": rr / n}


def table(index: SearchIndex, questions: list[dict]) -> str:
    lines = ["| retrieval | recall@1 | recall@5 | recall@10 | MRR@10 |", "| --- | --- | --- | --- | --- |"]
    for mode in MODES:
        m = evaluate(index, questions, mode)
        lines.append(f"| {mode} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |")
    return "\n".join(lines)


def misses(index: SearchIndex, questions: list[dict], mode: str = "hybrid", k: int = 5) -> list[str]:
    out = []
    for q in questions:
        hits = index.search(q["q"], k=k, mode=mode)  # type: ignore[arg-type]
        paths = [page_path(h.url) for h in hits]
        if not any(p in q["pages"] for p in paths):
            out.append(f"  {q['q']}\n    want {q['pages']}\n    got  {paths}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="index directory (default: a temporary one)")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--model", default=None)
    parser.add_argument("--sweep", action="store_true", help="compare chunk sizes and overlaps")
    parser.add_argument("--misses", action="store_true", help="print the questions hybrid misses at 5")
    args = parser.parse_args()
    questions = load_questions()
    french = sum(1 for q in questions if q.get("lang") == "fr")
    print(f"{len(questions)} questions ({french} in French)")
    embedder = make_embedder(args.model)
    settings = [(1000, 150)]
    if args.sweep:
        settings = [(500, 75), (800, 120), (1000, 150), (1000, 0), (1500, 200)]
    for size, overlap in settings:
        uri = args.index or tempfile.mkdtemp(prefix="chift-search-eval-")
        started = time.perf_counter()
        result = build_index(args.source, uri, embedder=embedder, chunk_size=size, chunk_overlap=overlap)
        took = time.perf_counter() - started
        index = SearchIndex.open(uri, embedder=embedder)
        print(
            f"\nmodel {embedder.name}, chunks of {size} chars, overlap {overlap}: {result.chunks} chunks, "
            f"{'reused' if result.skipped else 'built'} in {took:.1f} s\n"
        )
        print(table(index, questions))
        if args.misses:
            print("\nhybrid misses at 5:")
            print("\n".join(misses(index, questions)) or "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
