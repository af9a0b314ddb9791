"""The words people use for Chift's operations, for the operation finder (``data/vocabulary.json``).

Written from general accounting and software vocabulary (French and English) and the docs' list of
connectors, not from evaluation questions. Keys and values are folded (lower case, no accents).

- ``FRENCH``: a French word or phrase -> the English words the API uses for it.
- ``BUSINESS``: an everyday English word or phrase (the business act) -> the API's words.
- ``DOMAIN_WORDS``: words that point at a domain, added to each of its operations' text.
- ``CONNECTORS``: software names (from docs.chift.eu/connectors) -> their domain.
- ``DOMAIN_CUES``: words in a question that name a domain.
- ``INTENT``: verbs (both languages) -> the kind of operation they ask for.
- ``ONE``: phrases saying the asker wants one object, not a list.
- ``STOP``: words that say nothing about an operation, in both languages.
- ``LANGUAGES``: for each further language (``data/languages/<code>.json``: Dutch, German, Spanish),
  its words and phrases -> the API's English words; ``LANGUAGE_STOP`` its function words;
  ``STEMMERS`` its Snowball stemmer. Those
  files were written blind from the spec and the docs (each says so in its ``_about``); a language
  is added by adding a file, with no code.
"""

from __future__ import annotations

import json
from importlib.resources import files

_DATA = json.loads(files("chift_mcp.tools").joinpath("data/vocabulary.json").read_text(encoding="utf-8"))

FRENCH: dict[str, str] = _DATA["french"]
BUSINESS: dict[str, str] = _DATA["business"]
DOMAIN_WORDS: dict[str, str] = _DATA["domain_words"]
CONNECTORS: dict[str, tuple[str, ...]] = {d: tuple(names) for d, names in _DATA["connectors"].items()}
DOMAIN_CUES: dict[str, tuple[str, ...]] = {d: tuple(words) for d, words in _DATA["domain_cues"].items()}
INTENT: dict[str, tuple[str, ...]] = {k: tuple(verbs) for k, verbs in _DATA["intent"].items()}
ONE: tuple[str, ...] = tuple(_DATA["one"])
STOP: frozenset[str] = frozenset(_DATA["stop"])


def _languages() -> dict[str, dict[str, list[str] | dict[str, str]]]:
    folder = files("chift_mcp.tools").joinpath("data/languages")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    }


_LANGUAGE_DATA = _languages()
LANGUAGES: dict[str, dict[str, str]] = {code: dict(d["terms"]) for code, d in _LANGUAGE_DATA.items()}  # type: ignore[arg-type]
LANGUAGE_STOP: dict[str, frozenset[str]] = {code: frozenset(d["stop"]) for code, d in _LANGUAGE_DATA.items()}
# The Snowball stemmer of each language (snowballstemmer's name for it), so inflected words find their entry.
STEMMERS: dict[str, str] = {code: str(d["stemmer"]) for code, d in _LANGUAGE_DATA.items() if d.get("stemmer")}
