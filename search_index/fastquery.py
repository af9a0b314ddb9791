"""Embeddings without torch: a NumPy forward pass for BERT-family sentence-transformers.

Importing sentence-transformers (torch, transformers, scikit-learn) takes 4–5 s on a 2-core machine;
a question is a dozen tokens through six small layers. For a local model directory whose pipeline is
the common one — a ``bert`` encoder, mean pooling, optional normalization, no query prompt — this
module computes the same vector with ``tokenizers`` (the tokenizer sentence-transformers uses),
``safetensors`` and NumPy in a few milliseconds, and loads in a fraction of a second.

``documents`` does the same for the index build, in padded batches with masked attention and
pooling (about 2,800 texts in well under a minute on two cores), so the default model needs no
torch at all. The build record holds the model's fingerprint (the probe sentence's vector), and
``search.check_model`` refuses an index whose fingerprint this encoder does not reproduce (cosine
below 0.999). tests/search_index check both paths against sentence-transformers where it is
installed (cosine above 0.9999).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("search_index.fastquery")

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


class NumpyBertQuery:
    """Embed one question with a BERT sentence-transformer's weights, in NumPy."""

    def __init__(self, directory: Path, config: dict[str, Any], max_length: int, normalize: bool) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.normalize = normalize
        self._pool = _blas_controller()
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        weights = load_file(str(directory / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {
            k[len(prefix) :]: v.astype(np.float32, copy=False)
            for k, v in weights.items()
            if k.startswith(prefix)
        }
        # Linear layers as (in, out) so that x @ W works row-wise.
        for key in [
            k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k
        ]:
            self.w[key] = np.ascontiguousarray(self.w[key].T)

    @classmethod
    def from_dir(cls, directory: str | Path) -> NumpyBertQuery | None:
        """The encoder for ``directory``, or None when its pipeline is not one this reproduces."""
        path = Path(directory)
        try:
            modules = json.loads((path / "modules.json").read_text())
            config = json.loads((path / "config.json").read_text())
            st_config = _read_json(path / "config_sentence_transformers.json")
            bert_config = _read_json(path / "sentence_bert_config.json")
        except (OSError, ValueError):
            return None
        types = [m.get("type") for m in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        pooling = _read_json(path / modules[1].get("path", "") / "config.json")
        mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        )
        supported = (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and mean_only
            and not any((st_config.get("prompts") or {}).values())
            and not st_config.get("default_prompt_name")
            and (path / "tokenizer.json").is_file()
            and (path / "model.safetensors").is_file()
        )
        if not supported:
            return None
        max_length = int(bert_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
        try:
            return cls(path, config, max_length, normalize=types[-1] == _NORMALIZE)
        except (OSError, KeyError, ValueError, ImportError) as exc:
            logger.info("no NumPy query encoder for %s: %s", path, exc)
            return None

    def encode(self, text: str) -> np.ndarray:
        # Matrices of a dozen rows: one BLAS thread is faster, and much faster on a busy machine,
        # than threads that spin waiting for each other.
        if self._pool is None:
            return self._encode(text)
        with self._pool.limit(limits=1, user_api="blas"):
            return self._encode(text)

    def _encode(self, text: str) -> np.ndarray:
        import numpy as np

        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        size = self.dim // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = self._dense(x, p + "attention.self.query").reshape(n, self.heads, size).transpose(1, 0, 2)
            k = self._dense(x, p + "attention.self.key").reshape(n, self.heads, size).transpose(1, 2, 0)
            v = self._dense(x, p + "attention.self.value").reshape(n, self.heads, size).transpose(1, 0, 2)
            scores = (q @ k) / np.sqrt(np.float32(size))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, self.dim)
            x = self._norm(
                self._dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
            )
            hidden = _gelu(self._dense(x, p + "intermediate.dense"))
            x = self._norm(self._dense(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        vector = x.mean(axis=0)
        if self.normalize:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return vector.astype(np.float32)

    def documents(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Many texts at once (padded batches, masked attention and pooling): the index build's path."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(list(texts[start : start + batch_size]))
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros((len(encodings), width), dtype=np.float32)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = 1.0
            out[start : start + len(encodings)] = self._encode_batch(ids, mask)
        return out

    def _encode_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np

        w = self.w
        batch, n = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        size = self.dim // self.heads
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding is never attended to
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = (
                self._dense(x, p + "attention.self.query")
                .reshape(batch, n, self.heads, size)
                .transpose(0, 2, 1, 3)
            )
            k = (
                self._dense(x, p + "attention.self.key")
                .reshape(batch, n, self.heads, size)
                .transpose(0, 2, 3, 1)
            )
            v = (
                self._dense(x, p + "attention.self.value")
                .reshape(batch, n, self.heads, size)
                .transpose(0, 2, 1, 3)
            )
            scores = (q @ k) / np.sqrt(np.float32(size)) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, n, self.dim)
            x = self._norm(
                self._dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
            )
            hidden = _gelu(self._dense(x, p + "intermediate.dense"))
            x = self._norm(self._dense(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        vectors = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        if self.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        import numpy as np

        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Φ(x), with erf from Abramowitz & Stegun 7.1.26 (error below 1.5e-7)."""
    import numpy as np

    z = x / np.float32(np.sqrt(2.0))
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
