"""``python -m search_index`` (also ``chift-mcp index``): build and query a docs index.

    build [--source PATH_OR_URL] [--index URI] [--model NAME_OR_PATH] [--force]
    query [--index URI] [--k 5] [--section PATH] "question"      readable results
    query [--index URI] [--k 5] --jsonl                           {"query": ...} lines on stdin,
                                                                  one {"query", "results"} line out each
    info  [--index URI]                                           the build record

The index defaults to ``CHIFT_SEARCH_INDEX`` or the user cache directory; the source to
``CHIFT_SEARCH_SOURCE`` or https://docs.chift.eu/llms-full.txt; the model to ``CHIFT_SEARCH_MODEL``,
else (for queries) the model that built the index. Results go to stdout, progress and logs to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from typing import Any

EXIT_USAGE = 2


def parser(prog: str = "python -m search_index") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Build and query the local Chift docs index.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logs on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build (or refresh) the index")
    build.add_argument("--source", default=None, help="llms-full.txt path or URL")
    build.add_argument("--index", default=None, help="index directory or object-store URI")
    build.add_argument(
        "--model", default=None, help="the default (USE multilingual), or a sentence-transformers name or local path"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when the source is unchanged")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    query = sub.add_parser("query", help="search the index")
    query.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    query.add_argument("--index", default=None, help="index directory or object-store URI")
    query.add_argument("--k", type=int, default=5, help="number of results (1-20, default 5)")
    query.add_argument("--section", default=None, help="only pages under this docs path, e.g. connectors/pos")
    query.add_argument("--model", default=None, help="model to embed the question with")
    query.add_argument(
        "--mode",
        choices=("hybrid", "rrf", "vector", "bm25"),
        default="hybrid",
        help="retrieval (default hybrid; the others are the earlier ranking's baselines)",
    )
    query.add_argument("--jsonl", action="store_true", help='read {"query": ...} lines from stdin')
    info = sub.add_parser("info", help="print the index's build record")
    info.add_argument("--index", default=None, help="index directory or object-store URI")
    return p


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "python -m search_index",
    index: str | None = None,
    source: str | None = None,
    model: str | None = None,
) -> int:
    """Run the command line; ``index``, ``source`` and ``model`` are defaults from the caller's
    settings (``chift-mcp index``), used when neither the options nor the environment give one."""
    args = parser(prog).parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from search_index.paths import default_index

    args.index = args.index or os.environ.get("CHIFT_SEARCH_INDEX") or index or default_index()
    args.default_source = source
    if args.command in ("build", "query") and not args.model:
        # For queries, no model means: the model that built the index (checked by fingerprint).
        args.model = os.environ.get("CHIFT_SEARCH_MODEL") or (model if args.command == "build" else None)
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "info":
            return _info(args)
        return _query(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from search_index.search import BadSection, ModelMismatch
        from search_index.store import IndexMissing

        if isinstance(exc, (IndexMissing, ModelMismatch, BadSection, OSError, ValueError)):
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        raise


def _build(args: argparse.Namespace) -> int:
    from search_index.build import build_index
    from search_index.corpus import DEFAULT_SOURCE

    source = args.source or os.environ.get("CHIFT_SEARCH_SOURCE") or args.default_source or DEFAULT_SOURCE
    bar = None if args.no_progress else _ProgressBar()
    try:
        result = build_index(
            source, args.index, model=args.model, force=args.force, progress=bar.update if bar else None
        )
    finally:
        if bar:
            bar.close()
    if result.skipped:
        print(
            f"index at {args.index} is up to date ({result.chunks} chunks from {result.pages} pages; "
            "source unchanged): nothing to do",
            file=sys.stderr,
        )
    else:
        print(
            f"built {args.index}: {result.chunks} chunks from {result.pages} pages with "
            f"{result.meta['model']} in {result.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0


class _ProgressBar:
    """One tqdm bar on stderr for the embedding stage, a line for the others."""

    def __init__(self) -> None:
        self._bar: Any = None

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != "embed":
            if done == 0:
                print(f"{stage}…", file=sys.stderr)
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="embedding", unit="chunk", file=sys.stderr)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _info(args: argparse.Namespace) -> int:
    from search_index import store

    meta = store.read_meta(store.connect(args.index))
    if meta is None:
        raise store.IndexMissing(f"no search index at {args.index}")
    print(json.dumps(meta, indent=2))
    return 0


def _query(args: argparse.Namespace) -> int:
    if not 1 <= args.k <= 20:
        print("--k must be between 1 and 20", file=sys.stderr)
        return EXIT_USAGE
    if args.jsonl == bool(args.question):
        print("give a question, or --jsonl with questions on stdin (not both)", file=sys.stderr)
        return EXIT_USAGE
    from search_index.search import SearchIndex

    index = SearchIndex.open(args.index, model=args.model)
    if args.jsonl:
        return _jsonl(index, args)
    hits = index.search(args.question, args.k, section=args.section, mode=args.mode)
    if not hits:
        print("no results", file=sys.stderr)
        return 0
    for n, hit in enumerate(hits, 1):
        where = f"{hit.title} › {hit.section}" if hit.section else hit.title
        print(f"{n}. {where}  (score {hit.score:.3f})")
        print(f"   {hit.url}")
        body = " ".join(hit.text.split())
        print(textwrap.indent(textwrap.fill(textwrap.shorten(body, 400), 96), "   "))
        print()
    return 0


def _jsonl(index: Any, args: argparse.Namespace) -> int:
    status = 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            query = request["query"]
            if not isinstance(query, str):
                raise TypeError("query must be a string")
            hits = index.search(query, args.k, section=request.get("section", args.section), mode=args.mode)
            out: dict[str, Any] = {"query": query, "results": [h.as_dict() for h in hits]}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            out = {"line": number, "error": f"{type(exc).__name__}: {exc}"}
            status = 1
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return status
