"""Sentence vectors for the operation finder, when the ``[search]`` extra is installed.

Each operation's summary and description are embedded once with the docs search's model
(all-MiniLM-L6-v2, through the torch-free NumPy encoder of :mod:`search_index.fastquery`) and
cached on disk beside the tool specs, keyed on the spec, the model's fingerprint and the text;
a question is embedded in about ten milliseconds, with the English words the vocabulary adds to a
French question appended. Nothing here is imported unless the finder is asked for vectors, and
the finder works without them (lexical only) when the extra or the model is missing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chift_mcp.toolspec import ToolSpec
from chift_mcp.vocabulary import DOMAIN_WORDS

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("chift_mcp.finder")

_FORMAT = "1"


def document(tool: ToolSpec) -> str:
    """What is embedded for an operation: its summary, its description's start, its domain."""
    op = tool.operation
    summary = op.summary if op is not None else tool.title
    description = (op.description if op is not None else tool.description)[:300]
    return f"{summary}. {description} ({DOMAIN_WORDS.get(tool.domain, tool.domain)})"


class OperationVectors:
    """One unit vector per operation; ``rank(query, names)`` orders ``names`` by cosine to the query."""

    def __init__(self, encoder: Any, names: Sequence[str], matrix: np.ndarray) -> None:
        self.encoder = encoder
        self.rows = {name: i for i, name in enumerate(names)}
        self.matrix = matrix

    def rank(self, query: str, names: Sequence[str]) -> list[str]:
        import numpy as np

        from chift_mcp.finder import read

        question = read(query)
        added = " ".join(t for t, w in question.terms.items() if w < 1.0)
        vector = self.encoder.encode(f"{query} {added}".strip())
        present = [n for n in names if n in self.rows]
        sims = self.matrix[[self.rows[n] for n in present]] @ vector
        return [present[i] for i in np.argsort(-sims, kind="stable")]

    @classmethod
    def build(cls, tools: Sequence[ToolSpec], *, model_dir: str, cache: Path | None) -> OperationVectors:
        import numpy as np

        from search_index.fastquery import NumpyBertQuery

        encoder = NumpyBertQuery.from_dir(model_dir)
        if encoder is None:
            raise LookupError(f"no NumPy encoder for the model at {model_dir}")
        texts = [document(t) for t in tools]
        names = [t.name for t in tools]
        key = hashlib.sha256("\n".join([_FORMAT, model_dir, *names, *texts]).encode()).hexdigest()[:24]
        path = cache / f"operation-vectors-{key}.npy" if cache is not None else None
        matrix = None
        if path is not None and path.is_file():
            try:
                matrix = np.load(path)
            except (OSError, ValueError):
                matrix = None
        if matrix is None or matrix.shape != (len(texts), encoder.dim):
            matrix = np.stack([encoder.encode(text) for text in texts]).astype(np.float32)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp.npy")
                    np.save(tmp, matrix)
                    tmp.replace(path)
                except OSError as exc:
                    logger.debug("operation vectors not cached (%s)", exc)
        return cls(encoder, names, matrix)


class LazyVectors:
    """The vectors of an inventory's operations, built once in a background thread on first use.
    Until they are ready (or when the extra or model is missing), ``get()`` is None and the finder
    ranks lexically."""

    def __init__(self, tools: Sequence[ToolSpec], *, cache: Path | None) -> None:
        self.tools = list(tools)
        self.cache = cache
        self._vectors: OperationVectors | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failed: str | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None and self.failed is None:
                self._thread = threading.Thread(target=self._build, name="chift-finder-vectors", daemon=True)
                self._thread.start()

    def get(self, *, wait: float = 0.0) -> OperationVectors | None:
        self.start()
        if self._vectors is None and wait and self._thread is not None:
            self._thread.join(wait)
        return self._vectors

    def rank(self, query: str, names: Sequence[str]) -> list[str] | None:
        """The vector ranking once the vectors are built; None before (the finder ranks lexically)."""
        vectors = self.get()
        return vectors.rank(query, names) if vectors is not None else None

    def _build(self) -> None:
        model_dir = model_directory()
        if model_dir is None:
            self.failed = "no local model"
            return
        try:
            self._vectors = OperationVectors.build(self.tools, model_dir=model_dir, cache=self.cache)
        except Exception as exc:  # the finder goes on lexically, whatever went wrong
            self.failed = f"{type(exc).__name__}: {exc}"
            logger.info("operation finder without vectors: %s", self.failed)


def model_directory() -> str | None:
    """The local directory of the docs search's model, or None (extra missing, model not on disk)."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("numpy", "tokenizers", "safetensors")):
        return None
    try:
        from search_index.embed import DEFAULT_MODEL, resolve_model
    except ImportError:
        return None
    import os

    resolved = resolve_model(os.environ.get("CHIFT_SEARCH_MODEL") or DEFAULT_MODEL)
    return resolved if Path(resolved).is_dir() else None
