"""Query an index: vectors and BM25, fused by reciprocal rank, grouped by page.

``SearchIndex.open(uri)`` reads the build record, loads the embedder once (the model the index was
built with unless told otherwise) and refuses a model whose fingerprint differs from the one that
built the index. ``search(query, k)`` asks LanceDB for the nearest chunks by cosine distance and the
best chunks by BM25 (both narrowed by an optional section filter before ranking), fuses the two
rankings with reciprocal rank fusion — ``sum(1 / (RRF_K + rank))``, scaled so that first in both
lists is 1.0 — and keeps the best chunk of each page, so one long page cannot fill the top k.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from search_index import store
from search_index.build import PROBE
from search_index.corpus import page_path
from search_index.embed import Embedder, make_embedder

logger = logging.getLogger("search_index.search")

Mode = Literal["hybrid", "vector", "bm25"]
RRF_K = 60
CANDIDATES = 40
_SECTION = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


class ModelMismatch(ValueError):
    """The index was built with another embedding model."""


class BadSection(ValueError):
    """The section filter is not a docs path such as ``connectors/pos``."""


@dataclass(frozen=True)
class Hit:
    url: str
    title: str
    section: str
    score: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Row:
    id: int
    page: int
    title: str
    url: str
    path: str
    section: str
    text: str


def section_filter(section: str | None) -> str | None:
    """The SQL filter for a section (``api-reference``, ``connectors/pos``, or a docs URL)."""
    if section is None or not section.strip():
        return None
    path = page_path(section.strip()) if "://" in section else section.strip().strip("/")
    if not _SECTION.match(path):
        raise BadSection(f"section {section!r} is not a docs path like 'connectors/pos'")
    return f"path = '{path}' OR path LIKE '{path}/%'"


class SearchIndex:
    def __init__(self, table: Any, meta: dict[str, Any], embedder: Embedder) -> None:
        self.table = table
        self.meta = meta
        self.embedder = embedder
        columns = ["id", "page", "title", "url", "path", "section", "text"]
        data = table.to_arrow().select(columns).to_pylist()
        self._rows = {int(r["id"]): _Row(**r) for r in data}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, uri: str | Path, *, embedder: Embedder | None = None, model: str | None = None
    ) -> SearchIndex:
        """Open the index at ``uri``. The model is ``embedder``, else ``model``, else
        ``CHIFT_SEARCH_MODEL``, else the one recorded in the index."""
        db = store.connect(uri)
        meta = store.read_meta(db)
        if meta is None:
            raise store.IndexMissing(
                f"no search index at {uri}: build one with `python -m search_index build`"
            )
        table = store.open_chunks(db)
        if embedder is None:
            embedder = make_embedder(model or os.environ.get("CHIFT_SEARCH_MODEL") or meta["model"])
        check_model(meta, embedder)
        return cls(table, meta, embedder)

    def __len__(self) -> int:
        return len(self._rows)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        section: str | None = None,
        mode: Mode = "hybrid",
        candidates: int = CANDIDATES,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``, at most one per page."""
        where = section_filter(section)
        lists: list[list[int]] = []
        if mode in ("hybrid", "vector"):
            lists.append(self.vector_ids(query, candidates, where))
        if mode in ("hybrid", "bm25"):
            lists.append(self.text_ids(query, candidates, where))
        return self._fuse(lists, k)

    def vector_ids(self, query: str, limit: int, where: str | None = None) -> list[int]:
        vector = self.embedder.query(query)
        builder = self.table.search(vector, query_type="vector", vector_column_name="vector")
        builder = builder.distance_type("cosine").bypass_vector_index()  # exact: no ANN index at this size
        if where:
            builder = builder.where(where, prefilter=True)
        with self._lock:
            rows = builder.limit(limit).select(["id", "_distance"]).to_arrow()
        return [int(i) for i in rows.column("id").to_pylist()]

    def text_ids(self, query: str, limit: int, where: str | None = None) -> list[int]:
        terms = " ".join(re.findall(r"\w+", query))
        if not terms:
            return []
        builder = self.table.search(terms, query_type="fts", fts_columns=store.FTS_COLUMN)
        if where:
            builder = builder.where(where, prefilter=True)
        with self._lock:
            rows = builder.limit(limit).select(["id", "_score"]).to_arrow()
        return [int(i) for i in rows.column("id").to_pylist()]

    def _fuse(self, lists: Sequence[list[int]], k: int) -> list[Hit]:
        scores: dict[int, float] = {}
        for ranked in lists:
            for rank, chunk_id in enumerate(ranked, start=1):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        best = 1.0 / (RRF_K + 1) * max(len(lists), 1)
        hits: list[Hit] = []
        seen: set[int] = set()
        for chunk_id in sorted(scores, key=lambda i: (-scores[i], i)):
            row = self._rows[chunk_id]
            if row.page in seen:
                continue
            seen.add(row.page)
            hits.append(Hit(row.url, row.title, row.section, round(scores[chunk_id] / best, 4), row.text))
            if len(hits) == k:
                break
        return hits


def check_model(meta: dict[str, Any], embedder: Embedder) -> None:
    """Refuse ``embedder`` unless it embeds the probe sentence as the index's model did."""
    import numpy as np

    probe = np.asarray(meta.get("probe") or [], dtype=np.float32)
    mismatch = probe.shape != (embedder.dim,)
    if not mismatch:
        mine = embedder.query(PROBE)
        # The same weights give the same vector to ~1e-6 whatever the runtime (torch or NumPy).
        mismatch = float(np.dot(mine, probe) / (np.linalg.norm(probe) or 1.0)) < 0.999
    if mismatch:
        raise ModelMismatch(
            f"the index was built with {meta.get('model')!r} but the query model is {embedder.name!r}: "
            f"query with the same model, or rebuild the index with this one (build --model {embedder.name})"
        )
