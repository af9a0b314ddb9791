"""Okapi BM25 over a few thousand short documents, in memory, with NumPy.

``BM25(docs)`` takes each document as its list of terms (:func:`search_index.text.terms`) and keeps
one posting list per term. ``scores(query_terms)`` gives every document's score; a query term may
carry a weight (terms added by query expansion count less than the asker's own words).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

K1 = 1.2
B = 0.75


class BM25:
    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = K1, b: float = B) -> None:
        import numpy as np

        self.n = len(docs)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = np.zeros(self.n, dtype=np.float32)
        for doc_id, doc in enumerate(docs):
            lengths[doc_id] = len(doc)
            for term, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(doc_id)
                tfs.append(tf)
        avg = float(lengths.mean()) if self.n else 1.0
        norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (ids, tfs) in postings.items():
            id_array = np.asarray(ids, dtype=np.int32)
            tf_array = np.asarray(tfs, dtype=np.float32)
            idf = np.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5))
            # The per-document part of BM25, precomputed: idf * tf (k1 + 1) / (tf + k1 (1 - b + b dl/avg)).
            self._postings[term] = (id_array, (idf * tf_array * (k1 + 1) / (tf_array + norm[id_array])))

    def __contains__(self, term: str) -> bool:
        return term in self._postings

    def scores(self, query: Sequence[str] | Mapping[str, float]) -> np.ndarray:
        """BM25 of every document for ``query`` (terms, or terms with weights; repeats count once)."""
        import numpy as np

        weights = dict(query) if isinstance(query, Mapping) else dict.fromkeys(query, 1.0)
        out = np.zeros(self.n, dtype=np.float32)
        for term, weight in weights.items():
            posting = self._postings.get(term)
            if posting is not None:
                out[posting[0]] += weight * posting[1]
        return out
