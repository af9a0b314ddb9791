"""Build an index: read the source, unescape it, chunk it, embed the chunks and the page summaries,
write them to LanceDB.

``build_index(source, uri)`` skips all work when the index at ``uri`` was built from the same
content (SHA-256 of the text), with the same model and chunking; ``force=True`` rebuilds anyway.
``progress(stage, done, total)`` is called as the build goes: stages ``read``, ``parse``,
``embed`` (done/total chunks and page summaries) and ``write``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_index import store
from search_index.corpus import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    DEFAULT_SOURCE,
    chunk_corpus,
    content_hash,
    page_summary,
    parse_pages,
    read_source,
)
from search_index.embed import Embedder, make_embedder
from search_index.questions import EMBEDDED, Questions, page_questions, questions_hash
from search_index.text import unescape

logger = logging.getLogger("search_index.build")

Progress = Callable[[str, int, int], None]
PROBE = "How do I authenticate to the Chift API?"  # its embedding is the model's fingerprint
BATCH = 32


@dataclass(frozen=True)
class BuildResult:
    skipped: bool
    pages: int
    chunks: int
    seconds: float
    meta: dict[str, Any]


def _noop(stage: str, done: int, total: int) -> None:
    pass


def build_index(
    source: str | Path = DEFAULT_SOURCE,
    uri: str | Path = "search-index",
    *,
    embedder: Embedder | None = None,
    model: str | None = None,
    force: bool = False,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
    progress: Progress | None = None,
    questions: Questions | None = None,
    embedded: tuple[str, ...] = EMBEDDED,
) -> BuildResult:
    """Build (or find up to date) the index of ``source`` at ``uri``. ``questions``: the questions
    each page answers (page path -> {language code -> questions}); the packaged ones when None.
    ``embedded``: the languages whose questions get vectors (the others are read by BM25 only)."""
    report = progress or _noop
    started = time.perf_counter()
    embedder = embedder or make_embedder(model)
    report("read", 0, 1)
    text = read_source(source)
    digest = content_hash(text)
    report("read", 1, 1)
    db = store.connect(uri)
    wanted = {
        "model": embedder.name,
        "source_hash": digest,
        "questions_hash": questions_hash(questions),
        "question_languages": list(embedded),
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
    }
    old = store.read_meta(db)
    if not force and old is not None and all(old.get(k) == v for k, v in wanted.items()):
        logger.info("index at %s is up to date (source %s unchanged)", uri, digest[:12])
        return BuildResult(True, old["pages"], old["chunks"], time.perf_counter() - started, old)

    report("parse", 0, 1)
    pages = parse_pages(unescape(text))
    if not pages:
        raise ValueError(f"{source}: no pages found (each page starts with '# Title' then 'Source: URL')")
    chunks = chunk_corpus(pages, size=chunk_size, overlap=chunk_overlap)
    report("parse", 1, 1)

    import numpy as np

    summaries = [page_summary(p) for p in pages]
    asked = page_questions(pages, questions)
    with_vectors = [lang in embedded for _, lang, _ in asked]
    texts = (
        [c.embedding_text() for c in chunks]
        + summaries
        + [q for (_, _, q), v in zip(asked, with_vectors, strict=True) if v]
    )
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    report("embed", 0, len(texts))
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        vectors[batch] = embedder.documents([texts[i] for i in batch], batch_size=BATCH)
        report("embed", min(start + BATCH, len(order)), len(texts))

    report("write", 0, 1)
    meta = {
        **wanted,
        "source": str(source),
        "dim": int(vectors.shape[1]),
        "probe": [round(float(x), 6) for x in embedder.query(PROBE)],
        "pages": len(pages),
        "chunks": len(chunks),
        "questions": len(asked),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    store.write(
        db,
        chunks,
        vectors[: len(chunks)],
        meta,
        pages,
        summaries,
        vectors[len(chunks) : len(chunks) + len(pages)],
        questions=asked,
        question_vectors=_spread(vectors[len(chunks) + len(pages) :], with_vectors),
        snapshot=store.local_dir(uri),
    )
    report("write", 1, 1)
    seconds = time.perf_counter() - started
    meta["build_seconds"] = round(seconds, 2)
    logger.info("built %d chunks from %d pages in %.1f s", len(chunks), len(pages), seconds)
    return BuildResult(False, len(pages), len(chunks), seconds, meta)


def _spread(vectors: Any, embedded: list[bool]) -> Any:
    """One row per question: the vectors of the embedded ones, zeros for the others."""
    import numpy as np

    out = np.zeros((len(embedded), vectors.shape[1]), dtype=np.float32)
    out[np.asarray(embedded, dtype=bool)] = vectors
    return out
