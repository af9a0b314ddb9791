"""The questions each page answers, as people ask them: four English and two French per page of
docs.chift.eu (``data/questions.json``), written from the docs by writers who never saw the
evaluation questions or the ranking. They are indexed beside the chunks and page summaries: BM25
over all of them, vectors over the English ones (the embedding model reads English; embedding the
French ones too changed nothing on the dev split and cost a third more build time); a question matches the page the way the asker words it, French included, where the page's
own text names the mechanism. Pages the file does not know (a newer corpus) simply have none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files

from search_index.corpus import Page


@lru_cache(maxsize=1)
def _raw() -> str:
    return files("search_index").joinpath("data/questions.json").read_text(encoding="utf-8")


Questions = Mapping[str, Mapping[str, Sequence[str]]]  # page path -> {"en": [...], "fr": [...]}


def packaged() -> Questions:
    data: Questions = json.loads(_raw())
    return data


def questions_hash(by_path: Questions | None = None) -> str:
    """Part of the build record: new questions mean a rebuild."""
    text = _raw() if by_path is None else json.dumps(by_path, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_questions(pages: Sequence[Page], by_path: Questions | None = None) -> list[tuple[int, str, str]]:
    """(page index, language, question) for every question of every page in ``pages``, from
    ``by_path`` (the packaged questions when None)."""
    by_path = packaged() if by_path is None else by_path
    out: list[tuple[int, str, str]] = []
    for index, page in enumerate(pages):
        asked = by_path.get(page.path, {})
        for lang in ("en", "fr"):
            out.extend((index, lang, q) for q in asked.get(lang, []))
    return out
