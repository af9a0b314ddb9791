"""Query an index: five rankings of the pages, fused by weighted reciprocal rank; one passage per page.

``SearchIndex.open(uri)`` reads the build record, loads the embedder once (the model the index was
built with unless told otherwise), refuses a model whose fingerprint differs from the one that built
the index, and reads the chunks and page summaries (text and vectors) into memory, where their BM25
statistics are computed: a few thousand short texts, scored with NumPy in a millisecond or two.

``search(query, k)`` (mode ``hybrid``, what ``search_chift`` answers with):

1. the query is expanded (:mod:`search_index.glossary`): a French query is rewritten word by word
   into English for the (English) embedding model; French words and business acts bring the docs'
   and the API's words, which the embedding model sees after the query and BM25 counts at half
   weight;
2. seven rankings of the pages: chunk vectors (cosine; a page ranks by its best chunk), chunk BM25,
   page-summary vectors, page-summary BM25, question vectors (a page ranks by its best question:
   the questions each page answers, as people ask them, :mod:`search_index.questions`), question
   BM25 (a page's questions as one text), and exact identifiers (``ERROR_PARTNER_ALREADY_EXISTS``,
   ``X-Chift-ConnectionId``: BM25 on those alone, when the query has any);
3. fused by weighted reciprocal rank, ``sum(w / (RRF_K + rank))`` (``WEIGHTS``), scaled so that first
   everywhere is 1.0; the ``k`` best pages are answered, each with its best chunk (by the chunk
   rankings) as the passage.

An optional ``section`` (a docs path) narrows every ranking to pages under it. Modes ``vector``,
``bm25`` and ``rrf`` are the earlier ranking, kept as baselines: LanceDB's nearest chunks and/or its
native BM25 index over the same chunks, the question as typed, fused by plain reciprocal rank
(k = 60) at chunk level, best chunk per page.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from search_index import store
from search_index.bm25 import BM25
from search_index.build import PROBE
from search_index.corpus import page_path
from search_index.embed import Embedder, make_embedder
from search_index.glossary import expand
from search_index.text import terms

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("search_index.search")

Mode = Literal["hybrid", "rrf", "vector", "bm25"]
RRF_K = 30  # 60 before Spanish page questions; 30 ranks better in every language on dev
BASELINE_RRF_K = 60  # the baseline modes, as they were
CANDIDATES = 40  # baseline modes: chunks asked of each LanceDB ranking
ADDED_WEIGHT = 0.5  # BM25 weight of a term the glossary added, against 1 for the asker's words
# Weights of the page rankings in the fusion (chosen on the dev split of bench/eval).
WEIGHTS = {
    "chunk_vector": 1.0,
    "chunk_bm25": 1.0,
    "page_vector": 1.0,
    "page_bm25": 0.5,
    "question_vector": 3.0,
    "question_bm25": 3.0,
    "identifier": 1.0,
}
# The vector rankings' weights are scaled for some models, by the language the query was read as
# (``Expansion.language``; "*": any other), chosen on the dev split: USE's vectors are weaker than
# MiniLM's, best at half weight, and in English (where BM25 and the page questions read the query as
# asked, untranslated) at 0.3.
VECTOR_SCALE: dict[str, dict[str, float]] = {
    "google/universal-sentence-encoder-multilingual-3": {"*": 0.5, "en": 0.3},
}
_VECTORS = frozenset({"chunk_vector", "page_vector", "question_vector"})
_SECTION = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
_MISSING = -1e9


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


def section_path(section: str | None) -> str | None:
    """The docs path of a section filter (``api-reference``, ``connectors/pos``, or a docs URL)."""
    if section is None or not section.strip():
        return None
    path = page_path(section.strip()) if "://" in section else section.strip().strip("/")
    if not _SECTION.match(path):
        raise BadSection(f"section {section!r} is not a docs path like 'connectors/pos'")
    return path


def section_filter(section: str | None) -> str | None:
    """The SQL filter for a section (``api-reference``, ``connectors/pos``, or a docs URL)."""
    path = section_path(section)
    return None if path is None else f"path = '{path}' OR path LIKE '{path}/%'"


class SearchIndex:
    def __init__(
        self,
        chunks: Any,
        meta: dict[str, Any],
        embedder: Embedder,
        pages: Any = None,
        questions: Any = None,
        *,
        table: Any = None,
        uri: str | Path | None = None,
    ) -> None:
        """``chunks``, ``pages`` and ``questions``: the tables as Arrow tables; ``table`` the LanceDB chunks
        table (opened from ``uri`` on first use by a baseline mode when not given)."""
        import numpy as np

        self._table = table
        self._uri = uri
        self.meta = meta
        self.embedder = embedder
        columns = ["id", "page", "title", "url", "path", "section", "text", "search_text", "vector"]
        data = chunks.select(columns).sort_by("id")
        rows = data.select(columns[:7]).to_pylist()
        self._rows = {int(r["id"]): _Row(**r) for r in rows}
        self._lock = threading.Lock()
        self._chunk_ids = np.asarray([r["id"] for r in rows], dtype=np.int64)
        self._chunk_page = np.asarray([r["page"] for r in rows], dtype=np.int64)
        self._chunk_vectors = _matrix(data.column("vector"), embedder.dim)
        self._chunk_bm25 = BM25([terms(t) for t in data.column("search_text").to_pylist()])
        self._page_vectors: np.ndarray | None = None
        self._page_bm25: BM25 | None = None
        if pages is not None:
            page_data = pages.select(["page", "title", "path", "text", "vector"]).sort_by("page")
            self._page_paths = page_data.column("path").to_pylist()
            self._page_vectors = _matrix(page_data.column("vector"), embedder.dim)
            titles = page_data.column("title").to_pylist()
            summaries = page_data.column("text").to_pylist()
            self._page_bm25 = BM25([terms(f"{t}\n{s}") for t, s in zip(titles, summaries, strict=True)])
        else:  # an index without page summaries (built by hand, tests): pages from the chunks
            count = int(self._chunk_page.max()) + 1 if len(rows) else 0
            paths = [""] * count
            for r in rows:
                paths[r["page"]] = r["path"]
            self._page_paths = paths
        self._pages = len(self._page_paths)
        self._question_vectors: np.ndarray | None = None
        self._question_bm25: BM25 | None = None
        if questions is not None and questions.num_rows:
            pages_of = np.asarray(questions.column("page").to_pylist(), dtype=np.int64)
            # An index built before the record named them embedded the English questions only.
            languages = set(meta.get("question_languages", ["en"]))
            embedded = np.asarray(
                [lang in languages for lang in questions.column("lang").to_pylist()], dtype=bool
            )
            self._question_page = pages_of[embedded]
            self._question_vectors = _matrix(questions.column("vector"), embedder.dim)[embedded]
            asked = [""] * self._pages
            for page, text in zip(pages_of, questions.column("text").to_pylist(), strict=True):
                asked[int(page)] += text + "\n"
            self._question_bm25 = BM25([terms(a) for a in asked])

    @property
    def table(self) -> Any:
        """The LanceDB chunks table (the baseline modes query it)."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    if self._uri is None:
                        raise store.IndexMissing("no LanceDB table for this index")
                    self._table = store.open_chunks(store.connect(self._uri))
        return self._table

    @classmethod
    def open(
        cls, uri: str | Path, *, embedder: Embedder | None = None, model: str | None = None
    ) -> SearchIndex:
        """Open the index at ``uri``. The model is ``embedder``, else ``model``, else
        ``CHIFT_SEARCH_MODEL``, else the one recorded in the index. A local index is read from its
        Arrow snapshot when it has one (LanceDB is then imported only by the baseline modes)."""
        snapshot = store.read_snapshot(uri)
        table = None
        if snapshot is not None:
            meta, chunks, pages, questions = snapshot
        else:
            db = store.connect(uri)
            found = store.read_meta(db)
            if found is None:
                raise store.IndexMissing(
                    f"no search index at {uri}: build one with `python -m search_index build`"
                )
            meta = found
            table = store.open_chunks(db)
            chunks, pages = table.to_arrow(), store.open_pages(db).to_arrow()
            questions = store.open_questions(db).to_arrow()
        if embedder is None:
            embedder = make_embedder(model or os.environ.get("CHIFT_SEARCH_MODEL") or meta["model"])
        check_model(meta, embedder)
        return cls(chunks, meta, embedder, pages, questions, table=table, uri=uri)

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
        if mode == "hybrid":
            return self._hybrid(query, k, section_path(section))
        where = section_filter(section)
        lists: list[list[int]] = []
        if mode in ("rrf", "vector"):
            lists.append(self.vector_ids(query, candidates, where))
        if mode in ("rrf", "bm25"):
            lists.append(self.text_ids(query, candidates, where))
        return self._fuse(lists, k)

    # ------------------------------------------------------------------ the ranking

    def _hybrid(self, query: str, k: int, path: str | None) -> list[Hit]:
        import numpy as np

        expansion = expand(query)
        vector = self.embedder.query(expansion.for_vectors)
        own = terms(query)
        weights = dict.fromkeys(own, 1.0)
        for term in terms(" ".join(expansion.added)):
            weights.setdefault(term, ADDED_WEIGHT)
        identifiers = [t for t in own if t.startswith("=")]

        allowed = self._allowed(path)
        chunk_cos = self._chunk_vectors @ vector
        chunk_bm25 = self._chunk_bm25.scores(weights)
        rankings = {
            "chunk_vector": self._by_page(chunk_cos),
            "chunk_bm25": self._by_page(_positive(chunk_bm25)),
        }
        if self._page_vectors is not None and self._page_bm25 is not None:
            rankings["page_vector"] = self._page_vectors @ vector
            rankings["page_bm25"] = _positive(self._page_bm25.scores(weights))
        if self._question_vectors is not None and self._question_bm25 is not None:
            best_question = np.full(self._pages, _MISSING, dtype=np.float32)
            np.maximum.at(
                best_question, self._question_page, (self._question_vectors @ vector).astype(np.float32)
            )
            rankings["question_vector"] = best_question
            rankings["question_bm25"] = _positive(self._question_bm25.scores(weights))
        if identifiers:
            rankings["identifier"] = self._by_page(_positive(self._chunk_bm25.scores(identifiers)))
        scales = VECTOR_SCALE.get(self.embedder.name, {})
        scale = scales.get(expansion.language, scales.get("*", 1.0))
        weight = {name: WEIGHTS[name] * (scale if name in _VECTORS else 1.0) for name in rankings}
        fused = np.zeros(self._pages, dtype=np.float64)
        for name, scores in rankings.items():
            fused += _rrf(scores, weight[name], allowed)
        best = sum(weight.values()) / (RRF_K + 1)

        # The passage: the page's best chunk by the chunk rankings.
        chunk_allowed = allowed[self._chunk_page] if allowed is not None else None
        chunk_fused = _rrf(chunk_cos, 1.0, chunk_allowed) + _rrf(_positive(chunk_bm25), 1.0, chunk_allowed)
        best_chunk: dict[int, int] = {}
        for index in np.argsort(-chunk_fused, kind="stable"):
            best_chunk.setdefault(int(self._chunk_page[index]), int(index))
        hits: list[Hit] = []
        for page in np.argsort(-fused, kind="stable"):
            if fused[page] <= 0 or len(hits) == k:
                break
            if int(page) in best_chunk:  # a page without text has no passage to show
                row = self._rows[int(self._chunk_ids[best_chunk[int(page)]])]
                hits.append(
                    Hit(row.url, row.title, row.section, round(float(fused[page]) / best, 4), row.text)
                )
        return hits

    def _allowed(self, path: str | None) -> np.ndarray | None:
        """Which pages the section filter keeps (None: all)."""
        if path is None:
            return None
        import numpy as np

        return np.asarray([p == path or p.startswith(path + "/") for p in self._page_paths], dtype=bool)

    def _by_page(self, chunk_scores: np.ndarray) -> np.ndarray:
        """Each page's best chunk score (``_MISSING`` for a page with none)."""
        import numpy as np

        out = np.full(self._pages, _MISSING, dtype=np.float32)
        np.maximum.at(out, self._chunk_page, chunk_scores.astype(np.float32, copy=False))
        return out

    # ------------------------------------------------------------------ baselines (LanceDB)

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
        words = " ".join(re.findall(r"\w+", query))
        if not words:
            return []
        builder = self.table.search(words, query_type="fts", fts_columns=store.FTS_COLUMN)
        if where:
            builder = builder.where(where, prefilter=True)
        with self._lock:
            rows = builder.limit(limit).select(["id", "_score"]).to_arrow()
        return [int(i) for i in rows.column("id").to_pylist()]

    def _fuse(self, lists: Sequence[list[int]], k: int) -> list[Hit]:
        scores: dict[int, float] = {}
        for ranked in lists:
            for rank, chunk_id in enumerate(ranked, start=1):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (BASELINE_RRF_K + rank)
        best = 1.0 / (BASELINE_RRF_K + 1) * max(len(lists), 1)
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


def _matrix(column: Any, dim: int) -> np.ndarray:
    import numpy as np

    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(np.asarray(flat, dtype=np.float32).reshape(-1, dim))


def _positive(scores: np.ndarray) -> np.ndarray:
    """BM25 scores with the documents that matched nothing marked missing."""
    import numpy as np

    return np.where(scores > 0, scores, _MISSING)


def _rrf(scores: np.ndarray, weight: float, allowed: np.ndarray | None) -> np.ndarray:
    """``weight / (RRF_K + rank)`` for every entry with a score (rank 1 = highest), 0 for the others
    and for those the section filter leaves out (ranks are taken among the allowed ones)."""
    import numpy as np

    valid = scores > _MISSING / 2
    if allowed is not None:
        valid &= allowed
    masked = np.where(valid, scores, -np.inf)
    order = np.argsort(-masked, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return np.where(valid, weight / (RRF_K + ranks), 0.0)


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
