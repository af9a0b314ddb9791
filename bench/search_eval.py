"""Retrieval quality of the docs search: recall@1/5/10 and MRR@10, overall, per kind and per lang.

    python bench/search_eval.py --set bench/eval/docs_questions.jsonl --split dev [--misses]
    python bench/search_eval.py --set bench/eval/docs_questions.jsonl --split test   # final figures
    python bench/search_eval.py                                  # the team's own 56 questions
    python bench/search_eval.py --index DIR --modes hybrid,rrf   # reuse a built index, some modes

Sets: ``bench/eval/docs_questions.jsonl`` (275 questions written blind by others, split dev/test:
see ``bench/eval/README.md``; tune on dev, report test) and ``bench/search_questions.jsonl`` (56
questions the ranking's authors wrote: a smoke set, no quality claim). A question counts as found at
k when one of its pages is among the first k results (results hold one passage per page).

Modes (all over the same index, the same chunks):

- ``bm25``: BM25 over the chunks alone, the question as typed;
- ``vector``: nearest chunks by cosine alone;
- ``rrf``: the previous hybrid, the two chunk rankings fused by reciprocal rank (k=60);
- ``hybrid``: what ``search_chift`` answers with (see the README's "Docs search" section).

``--misses`` prints the questions hybrid misses at 5 (refused on the test split: tune on dev only).
``--json FILE`` writes every figure. ``--sweep`` rebuilds the index for several chunk sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search_index import SearchIndex, build_index  # noqa: E402
from search_index.corpus import page_path  # noqa: E402
from search_index.embed import make_embedder  # noqa: E402

QUESTIONS = ROOT / "bench" / "search_questions.jsonl"
FROZEN = ROOT / "bench" / "eval" / "docs_questions.jsonl"
DEFAULT_SOURCE = ROOT / "../shared/chift-docs/llms-full.txt"
MODES = ("bm25", "vector", "rrf", "hybrid")
LABELS = {
    "bm25": "BM25 alone (chunks)",
    "vector": "vectors alone (chunks)",
    "rrf": "previous hybrid (RRF of the two)",
    "hybrid": "**hybrid (search_chift)**",
}
KS = (1, 5, 10)


def load_questions(path: Path = QUESTIONS, split: str = "all") -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split == "all":
        return rows
    if not all("split" in r for r in rows):
        raise SystemExit(f"{path} has no split field: use --split all")
    return [r for r in rows if r["split"] == split]


def rank_of(index: SearchIndex, question: dict[str, Any], mode: str) -> int | None:
    hits = index.search(question["q"], k=10, mode=mode)  # type: ignore[arg-type]
    paths = [page_path(h.url) for h in hits]
    return next((i for i, p in enumerate(paths, 1) if p in question["pages"]), None)


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"R@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    out["MRR@10"] = sum(1.0 / r for r in ranks if r is not None) / n
    out["n"] = len(ranks)
    return out


def evaluate(index: SearchIndex, questions: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """Figures overall and by ``kind`` and ``lang`` (when the set has them)."""
    ranks = [rank_of(index, q, mode) for q in questions]
    groups: dict[str, list[int | None]] = defaultdict(list)
    for q, r in zip(questions, ranks, strict=True):
        for field in ("kind", "lang"):
            if field in q:
                groups[f"{field}={q[field]}"].append(r)
    return {"all": scores(ranks), **{g: scores(rs) for g, rs in sorted(groups.items())}}


def table(results: dict[str, dict[str, Any]], group: str = "all") -> str:
    lines = [
        "| retrieval | recall@1 | recall@5 | recall@10 | MRR@10 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode, figures in results.items():
        m = figures[group]
        lines.append(
            f"| {LABELS.get(mode, mode)} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |"
        )
    return "\n".join(lines)


def breakdown(results: dict[str, dict[str, Any]]) -> str:
    """One row per group (kind, lang): recall@5 / MRR@10 of each mode."""
    modes = list(results)
    groups = [g for g in next(iter(results.values())) if g != "all"]
    head = "| group | n | " + " | ".join(f"{m} R@5 / MRR@10" for m in modes) + " |"
    lines = [head, "| --- | --- |" + " --- |" * len(modes)]
    for g in ["all", *groups]:
        n = results[modes[0]][g]["n"]
        cells = " | ".join(f"{results[m][g]['R@5']:.3f} / {results[m][g]['MRR@10']:.3f}" for m in modes)
        lines.append(f"| {g} | {n} | {cells} |")
    return "\n".join(lines)


def misses(
    index: SearchIndex, questions: list[dict[str, Any]], mode: str = "hybrid", k: int = 5
) -> list[str]:
    out = []
    for q in questions:
        hits = index.search(q["q"], k=k, mode=mode)  # type: ignore[arg-type]
        paths = [page_path(h.url) for h in hits]
        if not any(p in q["pages"] for p in paths):
            tag = f"[{q.get('kind', '?')}/{q.get('lang', '?')}] " if "kind" in q else ""
            out.append(f"  {tag}{q['q']}\n    want {q['pages']}\n    got  {paths}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=QUESTIONS, help="questions (jsonl)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--index", help="index directory (default: a temporary one; reused when unchanged)")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--model", default=None)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--sweep", action="store_true", help="compare chunk sizes and overlaps")
    parser.add_argument("--misses", action="store_true", help="print the questions hybrid misses at 5")
    parser.add_argument("--json", type=Path, default=None, help="write all figures to this file")
    args = parser.parse_args()
    if args.misses and args.split != "dev" and args.set.resolve() == FROZEN.resolve():
        parser.error("--misses is for the dev split only: test questions are not to be looked at")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    questions = load_questions(args.set, args.split)
    french = sum(1 for q in questions if q.get("lang") == "fr")
    print(f"{args.set.name} split={args.split}: {len(questions)} questions ({french} in French)")
    embedder = make_embedder(args.model)
    settings: list[tuple[int | None, int | None]] = [(None, None)]
    if args.sweep:
        settings = [(500, 75), (800, 120), (1000, 150), (1000, 0), (1500, 200)]
    report: dict[str, Any] = {"set": str(args.set), "split": args.split, "n": len(questions), "runs": []}
    for size, overlap in settings:
        uri = args.index if args.index and not args.sweep else tempfile.mkdtemp(prefix="chift-search-eval-")
        started = time.perf_counter()
        sizes: dict[str, Any] = {}
        if size is not None:
            sizes = {"chunk_size": size, "chunk_overlap": overlap}
        result = build_index(args.source, uri, embedder=embedder, **sizes)
        took = time.perf_counter() - started
        index = SearchIndex.open(uri, embedder=embedder)
        print(
            f"\nmodel {embedder.name}, chunks of {result.meta['chunk_size']} chars, overlap "
            f"{result.meta['chunk_overlap']}: {result.chunks} chunks from {result.pages} pages, "
            f"{'reused' if result.skipped else 'built'} in {took:.1f} s\n"
        )
        results = {mode: evaluate(index, questions, mode) for mode in modes}
        print(table(results))
        if any(g != "all" for g in next(iter(results.values()))):
            print("\nby kind and language (recall@5 / MRR@10):\n")
            print(breakdown(results))
        report["runs"].append({"chunk_size": result.meta["chunk_size"], "results": results})
        if args.misses:
            print("\nhybrid misses at 5:")
            print("\n".join(misses(index, questions)) or "  none")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
