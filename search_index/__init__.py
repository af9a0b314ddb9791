"""Local hybrid search over Chift's documentation (``llms-full.txt``).

    build_index(source, uri)        parse, chunk, embed and store (skipped when nothing changed)
    SearchIndex.open(uri).search(q) vectors + BM25, fused by reciprocal rank, one hit per page

Heavy dependencies (LanceDB, the embedding model; sentence-transformers for opt-in models) are imported on first use only; install
them with the ``[search]`` extra. ``python -m search_index`` is the command line.
"""

from search_index.build import BuildResult, build_index
from search_index.embed import DEFAULT_MODEL, HashEmbedder, SentenceTransformerEmbedder, make_embedder
from search_index.search import BadSection, Hit, ModelMismatch, SearchIndex
from search_index.store import IndexMissing

__all__ = [
    "DEFAULT_MODEL",
    "BadSection",
    "BuildResult",
    "HashEmbedder",
    "Hit",
    "IndexMissing",
    "ModelMismatch",
    "SearchIndex",
    "SentenceTransformerEmbedder",
    "build_index",
    "make_embedder",
]
