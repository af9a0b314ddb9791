"""The questions each page answers, as people ask them (``data/questions.json``: page path ->
{language code -> questions}; four English and two French per page, then two Dutch, two German and
two Spanish), written from the docs by writers who never saw the evaluation questions or the
ranking. They are indexed beside the chunks and page summaries: BM25 over all of them, vectors over
those in ``EMBEDDED`` (see ``docs/docs-search.md`` for what was measured); a question matches the
page the way the asker words it, in the asker's language, where the page's own text names the
mechanism. Any language code may appear; pages the file does not know (a newer corpus) simply have
none. Top-level keys starting with ``_`` are notes, not pages.
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


Questions = Mapping[str, Mapping[str, Sequence[str]]]  # page path -> {"en": [...], "fr": [...], ...}
# The languages whose questions are embedded (the others are read by BM25 only): on the dev split,
# embedding the Spanish ones raised MRR@10 in every language; embedding the French ones lowered French.
EMBEDDED: tuple[str, ...] = ("en", "nl", "de", "es")


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
        for lang in sorted(asked, key=lambda code: (code != "en", code != "fr", code)):
            out.extend((index, lang, q) for q in asked[lang])
    return out
