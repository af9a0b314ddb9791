"""The index on disk (or in an object store): two LanceDB tables under one URI.

``chunks``: one row per chunk — ``id``, ``page``, ``ordinal``, ``title``, ``url``, ``path`` (the
page's path under docs.chift.eu, for section filters), ``section`` (heading path below the title),
``text`` (what results show), ``search_text`` (heading path + text: what BM25 and the embedder
saw) and ``vector``; a native full-text (BM25) index covers ``search_text`` (the baseline modes
use it; the default ranking computes BM25 in memory, see :mod:`search_index.search`).

``pages``: one row per page — ``page``, ``title``, ``url``, ``path``, ``text`` (the page summary:
title, path words, headings, opening prose) and its ``vector``.

``questions``: one row per question a page answers (:mod:`search_index.questions`) — ``page``,
``lang``, ``text`` and its ``vector`` (zeros for the ones not embedded: French).

``meta``: one row holding the build record as JSON — format, model name and fingerprint, source and
its content hash, chunking parameters, counts, build time. A query checks it before anything else.

The URI is a directory or anything LanceDB connects to (``s3://bucket/prefix``, ``gs://…``,
``az://…``), so many replicas can read one index.

In a local directory the build also leaves a snapshot of the tables and the record in Arrow IPC
files (``snapshot-chunks.arrow``, ``snapshot-pages.arrow``, ``snapshot-questions.arrow``): a query process reads them with
pyarrow alone and never pays LanceDB's import (2–3 s) unless a baseline mode asks LanceDB itself.
The old snapshot is removed before the tables are replaced and the new one written before the build
record, each file under a temporary name first, so a snapshot is always a whole build's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search_index.corpus import Chunk, Page

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("search_index.store")

FORMAT = 3  # 2: unescaped text, a pages table; 3: a questions table
CHUNKS = "chunks"
PAGES = "pages"
QUESTIONS = "questions"
SNAPSHOT_CHUNKS = "snapshot-chunks.arrow"
SNAPSHOT_PAGES = "snapshot-pages.arrow"
SNAPSHOT_QUESTIONS = "snapshot-questions.arrow"
_SNAPSHOTS = (SNAPSHOT_CHUNKS, SNAPSHOT_PAGES, SNAPSHOT_QUESTIONS)
META = "meta"
FTS_COLUMN = "search_text"


class IndexMissing(LookupError):
    """No index (or no complete one) at this URI."""


def local_dir(uri: str | Path) -> Path | None:
    """The directory of a local index (a path or ``file://``), None for an object store."""
    text = str(uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        return None
    return Path(text).expanduser().resolve()


def normalize_uri(uri: str | Path) -> str:
    text = str(uri)
    if "://" in text:
        return text
    return str(Path(text).expanduser().resolve())


def connect(uri: str | Path) -> Any:
    # LanceDB's Rust core logs routine warnings ("No existing dataset ... will be created") to
    # stderr; keep only errors unless the user asked for more.
    os.environ.setdefault("LANCEDB_LOG", "error")
    import lancedb  # heavy: first use only

    return lancedb.connect(normalize_uri(uri))


def read_meta(db: Any) -> dict[str, Any] | None:
    """The build record, or None when there is no complete index."""
    try:
        table = db.open_table(META)
    except (ValueError, FileNotFoundError, OSError):
        return None
    rows = table.to_arrow().column("json").to_pylist()
    if not rows:
        return None
    meta = json.loads(rows[0])
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def write(
    db: Any,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    meta: dict[str, Any],
    pages: Sequence[Page] = (),
    summaries: Sequence[str] = (),
    page_vectors: np.ndarray | None = None,
    *,
    questions: Sequence[tuple[int, str, str]] = (),
    question_vectors: np.ndarray | None = None,
    snapshot: Path | None = None,
) -> None:
    """Replace the index with ``chunks`` and their ``vectors`` (and ``pages``, their summaries and
    vectors, and the ``questions`` pages answer with theirs); the build record is written last, so a reader never sees a record describing a
    half-written table. ``snapshot``: the local directory to leave the Arrow snapshot in."""
    import pyarrow as pa

    if snapshot is not None:
        for name in _SNAPSHOTS:
            (snapshot / name).unlink(missing_ok=True)

    dim = int(vectors.shape[1])
    schema = pa.schema(
        [
            pa.field("id", pa.int32()),
            pa.field("page", pa.int32()),
            pa.field("ordinal", pa.int32()),
            pa.field("title", pa.string()),
            pa.field("url", pa.string()),
            pa.field("path", pa.string()),
            pa.field("section", pa.string()),
            pa.field("text", pa.string()),
            pa.field(FTS_COLUMN, pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ]
    )
    flat = pa.array(vectors.astype("float32", copy=False).reshape(-1))
    data = pa.table(
        [
            pa.array(range(len(chunks)), pa.int32()),
            pa.array([c.page for c in chunks], pa.int32()),
            pa.array([c.ordinal for c in chunks], pa.int32()),
            pa.array([c.title for c in chunks]),
            pa.array([c.url for c in chunks]),
            pa.array([c.path for c in chunks]),
            pa.array([c.section for c in chunks]),
            pa.array([c.text for c in chunks]),
            pa.array([c.embedding_text() for c in chunks]),
            pa.FixedSizeListArray.from_arrays(flat, dim),
        ],
        schema=schema,
    )
    _drop(db, META)
    _drop(db, CHUNKS)
    _drop(db, PAGES)
    _drop(db, QUESTIONS)
    table = db.create_table(CHUNKS, data=data)
    page_data = None
    if page_vectors is not None:
        page_flat = pa.array(page_vectors.astype("float32", copy=False).reshape(-1))
        page_data = pa.table(
            {
                "page": pa.array(range(len(pages)), pa.int32()),
                "title": pa.array([p.title for p in pages]),
                "url": pa.array([p.url for p in pages]),
                "path": pa.array([p.path for p in pages]),
                "text": pa.array(list(summaries)),
                "vector": pa.FixedSizeListArray.from_arrays(page_flat, dim),
            }
        )
        db.create_table(PAGES, data=page_data)
    question_vectors = question_vectors if question_vectors is not None else _empty(dim)
    question_data = pa.table(
        {
            "page": pa.array([p for p, _, _ in questions], pa.int32()),
            "lang": pa.array([lang for _, lang, _ in questions], pa.string()),
            "text": pa.array([q for _, _, q in questions], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(question_vectors.astype("float32", copy=False).reshape(-1)), dim
            ),
        }
    )
    db.create_table(QUESTIONS, data=question_data)
    from lancedb.index import FTS

    table.create_index(FTS_COLUMN, config=FTS(language="English", stem=True, remove_stop_words=True))
    record = json.dumps({**meta, "format": FORMAT})
    if snapshot is not None and page_data is not None:
        _write_arrow(snapshot / SNAPSHOT_CHUNKS, data, record)
        _write_arrow(snapshot / SNAPSHOT_PAGES, page_data, record)
        _write_arrow(snapshot / SNAPSHOT_QUESTIONS, question_data, record)
    db.create_table(META, data=pa.table({"json": pa.array([record])}))


def _write_arrow(path: Path, table: Any, record: str) -> None:
    import pyarrow as pa

    temporary = path.with_name(path.name + ".tmp")
    table = table.replace_schema_metadata({"chift_search_meta": record})
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(temporary, path)


def _empty(dim: int) -> np.ndarray:
    import numpy as np

    return np.zeros((0, dim), dtype=np.float32)


def read_snapshot(uri: str | Path) -> tuple[dict[str, Any], Any, Any, Any] | None:
    """(build record, chunks, pages, questions) from a local index's Arrow snapshot, or None when there is none
    (an object store, an index from before snapshots, or a build under way)."""
    directory = local_dir(uri)
    if directory is None:
        return None
    try:
        import pyarrow as pa

        tables = []
        for name in _SNAPSHOTS:
            with pa.OSFile(str(directory / name), "rb") as source:
                tables.append(pa.ipc.open_file(source).read_all())
    except (OSError, ValueError):
        return None
    records = {(t.schema.metadata or {}).get(b"chift_search_meta") for t in tables}
    if len(records) != 1 or None in records:
        return None
    meta = json.loads(records.pop())  # type: ignore[arg-type]
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    return meta, tables[0], tables[1], tables[2]


def _drop(db: Any, name: str) -> None:
    with contextlib.suppress(ValueError, FileNotFoundError, OSError):
        db.drop_table(name)


def open_chunks(db: Any) -> Any:
    return _open(db, CHUNKS)


def open_pages(db: Any) -> Any:
    return _open(db, PAGES)


def open_questions(db: Any) -> Any:
    return _open(db, QUESTIONS)


def _open(db: Any, name: str) -> Any:
    try:
        return db.open_table(name)
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise IndexMissing(str(exc)) from None
