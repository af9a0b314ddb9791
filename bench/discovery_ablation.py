"""What each part of the operation finder adds: recall@5 and MRR@10 with parts switched off.

    python bench/discovery_ablation.py [--split dev|test]

Rows, cumulative: the naive baseline (BM25 over operationId + summary + description); our fields
and stems alone; + the French and business vocabulary; + the kind and domain nudges; + the
how-people-ask sentences (what ships); and the sentences without the vocabulary.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from discovery_eval import PlainBM25, every_operation, load_tasks, scores

import chift_mcp.tools.finder as finder_module
from chift_mcp.tools.finder import OperationFinder, Weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    args = parser.parse_args()
    tools = every_operation()
    names = {t.name for t in tools}
    tasks = [t for t in load_tasks(split=args.split) if any(op in names for op in t["ops"])]
    parts = (finder_module._EXPANSIONS, finder_module._INTENTS, finder_module._CUES)

    def ours(weights: Weights, *, vocabulary: bool = True, nudges: bool = True) -> Callable[[str], list[str]]:
        finder_module._EXPANSIONS = parts[0] if vocabulary else []
        finder_module._INTENTS = parts[1] if nudges else []
        finder_module._CUES = parts[2] if nudges else []
        finder = OperationFinder(tools, weights=weights)
        return lambda q: [t.name for _, t in finder.search(q, 10)]

    # Factories: read() uses the module's tables at query time, so each row is built right before
    # it is scored.
    rows: list[tuple[str, Callable[[], Callable[[str], list[str]]]]] = [
        ("naive BM25 over id + summary + description", lambda: PlainBM25(tools)),
        (
            "fields + stems, no vocabulary, no sentences",
            lambda: ours(Weights(asks=0.0), vocabulary=False, nudges=False),
        ),
        ("+ French and business vocabulary", lambda: ours(Weights(asks=0.0), nudges=False)),
        ("+ kind and domain nudges", lambda: ours(Weights(asks=0.0))),
        ("+ how-people-ask sentences (what ships)", lambda: ours(Weights())),
        ("the sentences without the vocabulary", lambda: ours(Weights(), vocabulary=False)),
    ]
    print(f"{len(tasks)} {args.split} tasks\n")
    print("| finder | R@5 | MRR@10 | paraphrase R@5 | French R@5 |\n| --- | --- | --- | --- | --- |")
    for label, make in rows:
        table, _, _ = scores(make(), tasks)
        m = table["all"]
        print(
            f"| {label} | {m['R@5']:.3f} | {m['MRR@10']:.3f} | "
            f"{table['kind:paraphrase']['R@5']:.3f} | {table['lang:fr']['R@5']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
