"""Query expansion: French words to the docs' English, and business acts to the API's words.

The docs are English and name mechanisms (``customer_refund``, ``matching``, ``bookyear``); askers
write French, or describe what they did ("we gave the customer a credit note"). Two hand-written
tables bridge that gap, written from general accounting, invoicing, point-of-sale, e-commerce,
banking, hotel and API-integration vocabulary (a French accountant's everyday words, the French
chart of accounts, the docs' page titles and data types), not from evaluation questions:

- ``FRENCH``: a French word or phrase (lower case, accents folded) -> its English equivalents in the
  docs' vocabulary. Looked up whole, then by French Snowball stem, so plurals and conjugations
  (``écritures``, ``récupérez``) find their entry. ``FRENCH_COMMON`` holds question and common
  words, so a French question can be rewritten word by word into an English one for the (English)
  embedding model. A French word of the trade in an otherwise English query (``lettrage``) brings
  its English along too.
- ``ACTS``: an English phrase of the asker's world -> the API's words for it, added to the query.

Dutch, German and Spanish (and any further language) come from the operation finder's language
files (``chift_mcp/tools/data/languages/<code>.json``: words and phrases -> the API's English,
function words, a Snowball stemmer; written blind from the spec and the docs): a query whose words
are more of one of those languages than French is rewritten the same way, phrase by phrase, then
word by stem, function words dropped. Adding a language is adding such a file.

``expand(query)`` returns the English rewriting (for the embedding model), the added terms (for
BM25, weighted below the asker's own words) and whether the query read as another language than English.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from search_index.text import fold

# The tables, as data (``search_index/data/glossary.json``):
# - FRENCH: French word or phrase (folded, one space between words) -> English, in the docs' words;
# - FRENCH_COMMON: question and common words, for the word-by-word rewriting of a French query, never
#   a sign of French in an English one ("comment", "page");
# - FRENCH_GENERAL: the other words of support and integration questions, verbs in the infinitive;
# - CONCEPTS: for each of the docs' concepts (page titles, data types, endpoint resources: the API's
#   words), the everyday words an accountant, a shop owner or a developer uses for it; read the other
#   way round, an asker's phrase brings the concept's words into the query (ACTS);
# - FRENCH_STOP, and _FRENCH_HINTS: function words that mark a question as French.
_DATA = json.loads(files("search_index").joinpath("data/glossary.json").read_text(encoding="utf-8"))
FRENCH: dict[str, str] = _DATA["french"]
FRENCH_COMMON: dict[str, str] = _DATA["french_common"]
FRENCH_GENERAL: dict[str, str] = _DATA["french_general"]
CONCEPTS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["concepts"].items()}
ACTS: dict[str, str] = {}
for _words, _phrases_of in CONCEPTS.items():
    for _phrase in _phrases_of:
        ACTS[_phrase] = f"{ACTS[_phrase]} {_words}" if _phrase in ACTS else _words
FRENCH_STOP = frozenset(_DATA["french_stop"])
_FRENCH_HINTS = frozenset(_DATA["french_hints"])
_ACCENTED = re.compile(r"[àâçéèêëîïôûùüÿœ]", re.IGNORECASE)
MAX_PHRASE = 4


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per language
class Language:
    """One further language: its words -> English (folded keys), function words, Snowball stemmer."""

    code: str
    terms: dict[str, str]
    stop: frozenset[str]
    stemmer: str | None

    def own(self, word: str) -> bool:
        """A word of this language's table that is not also an English word of its translation."""
        value = self.terms.get(word)
        return value is not None and word not in value.split()


@lru_cache(maxsize=1)
def languages() -> tuple[Language, ...]:
    folder = files("chift_mcp.tools").joinpath("data/languages")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            terms = {" ".join(_split_words(k)[0]): v for k, v in data["terms"].items()}
            stop = frozenset(fold(w) for w in data["stop"])
            out.append(Language(entry.name.removesuffix(".json"), terms, stop, data.get("stemmer")))
    return tuple(out)


@dataclass(frozen=True)
class Expansion:
    french: bool  # read as another language than English (French, or a language of ``languages()``)
    english: str  # the query rewritten in English (French words translated); the query itself if English
    added: tuple[str, ...]  # words from the glossaries, for BM25
    acts: tuple[str, ...] = ()  # the API's words for the business acts named (a part of ``added``)
    original: str = ""  # the query as asked, when read as Dutch, German, Spanish...
    language: str = "en"  # the language it was read as: "en", "fr", or a language file's code

    @property
    def for_vectors(self) -> str:
        """What the embedding model sees: the English query, then the API's words the glossaries
        brought (for French, the rewriting already holds the translations). A query in a further
        language is also kept as asked, before its rewriting: a multilingual model reads it (better
        on the dev split than the rewriting alone), an English one loses little."""
        extra = self.acts if self.french else self.added
        english = " ".join([self.english, *extra]) if extra else self.english
        return f"{self.original} {english}" if self.original else english


def is_french(query: str) -> bool:
    """French function words, accents and French-only glossary words (``lettrage``, ``factures``)
    taken together; a terse French keyword query has few function words."""
    folded, _ = _split_words(query)
    hints = sum(1 for t in folded if t in _FRENCH_HINTS)
    own = sum(1 for i in range(len(folded)) if _french_only(folded, i)[1] is not None)
    accents = bool(_ACCENTED.search(query))
    return hints >= 2 or (hints >= 1 and (accents or own >= 1)) or own >= 2 or (accents and own >= 1)


def _french_only(words: list[str], i: int) -> tuple[int, str | None]:
    """A French glossary phrase at ``words[i]``, or a French glossary word that is not also an
    English one (its English equivalents do not contain it), singular or plural: (length, English);
    (1, None) when there is none."""
    french, _ = _phrases()
    for n in range(min(MAX_PHRASE, len(words) - i), 1, -1):
        key = " ".join(words[i : i + n])
        if key in french:
            return n, french[key]
    word = words[i]
    for key in (word, word[:-1] if len(word) > 3 and word[-1] in "sx" else word):
        value = french.get(key)
        if value is not None and key not in FRENCH_COMMON and key not in value.lower().split():
            return 1, value
    return 1, None


@lru_cache(maxsize=1)
def _french_stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("french")


@lru_cache(maxsize=1)
def _by_stem() -> dict[str, str]:
    """Single-word French entries by their Snowball stem (the first entry wins)."""
    stemmer = _french_stemmer()
    out: dict[str, str] = {}
    for key, value in {**FRENCH_COMMON, **FRENCH_GENERAL, **FRENCH}.items():
        if " " not in key:
            out.setdefault(stemmer.stemWord(key), value)  # type: ignore[attr-defined]
    return out


@lru_cache(maxsize=1)
def _phrases() -> tuple[dict[str, str], dict[str, str]]:
    acts = {" ".join(fold(w) for w in re.findall(r"[\w-]+", k)): v for k, v in ACTS.items()}
    return {**FRENCH_COMMON, **FRENCH_GENERAL, **FRENCH}, acts


def _lookup_french(words: list[str], i: int) -> tuple[int, str | None]:
    french, _ = _phrases()
    for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
        key = " ".join(words[i : i + n])
        if key in french:
            return n, french[key]
    word = words[i]
    if len(word) > 3:
        hit = _by_stem().get(_french_stemmer().stemWord(word))  # type: ignore[attr-defined]
        if hit is not None:
            return 1, hit
    return 1, None


def _acts(words: list[str]) -> list[str]:
    _, acts = _phrases()
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            key = " ".join(words[i : i + n])
            if key in acts:
                out.append(acts[key])
                i += n
                break
        else:
            i += 1
    return out


def _split_words(query: str) -> tuple[list[str], list[str]]:
    """(folded words for lookups, the words as typed), hyphenated and elided words split."""
    raw = re.findall(r"[0-9A-Za-zÀ-ÖØ-öø-ÿœŒ_]+", query.replace("’", "'"))
    return [fold(w) for w in raw], raw


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    """Words that are English (or French) too: stop words (Lucene's and the operation finder's English
    and French list) and every word of the tables' English side; never a sign of another language
    ("we", "is", "post")."""
    from search_index.text import STOP_WORDS

    finder = json.loads(files("chift_mcp.tools").joinpath("data/vocabulary.json").read_text(encoding="utf-8"))
    values = [*FRENCH.values(), *FRENCH_GENERAL.values(), *CONCEPTS]
    values += [v for lang in languages() for v in lang.terms.values()]
    return STOP_WORDS | frozenset(finder["stop"]) | frozenset(w for v in values for w in _split_words(v)[0])


def _language_score(language: Language, folded: list[str]) -> int:
    english = _english()
    return sum(1 for w in folded if w not in english and (w in language.stop or language.own(w)))


def _french_score(query: str, folded: list[str]) -> int:
    hints = sum(1 for t in folded if t in _FRENCH_HINTS)
    return hints + sum(1 for i in range(len(folded)) if _french_only(folded, i)[1] is not None)


def other_language(query: str) -> Language | None:
    """The further language ``query`` is written in, when its words say so more than French does."""
    folded, _ = _split_words(query)
    scored = [(_language_score(lang, folded), lang) for lang in languages()]
    if not scored:
        return None
    score, best = max(scored, key=lambda pair: pair[0])
    if (score >= 2 or (score == 1 and len(folded) <= 3)) and score > _french_score(query, folded):
        return best
    return None


@cache
def _stemmer(name: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(name)


@cache
def _stems(language: Language) -> dict[str, str]:
    """Single-word entries by their Snowball stem (the first entry wins)."""
    if language.stemmer is None:
        return {}
    stemmer = _stemmer(language.stemmer)
    out: dict[str, str] = {}
    for key, value in language.terms.items():
        if " " not in key:
            out.setdefault(stemmer.stemWord(key), value)
    return out


def _lookup(language: Language, words: list[str], i: int) -> tuple[int, str | None]:
    for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
        key = " ".join(words[i : i + n])
        if key in language.terms:
            return n, language.terms[key]
    word = words[i]
    if len(word) > 3 and language.stemmer is not None and word not in language.stop:
        hit = _stems(language).get(_stemmer(language.stemmer).stemWord(word))
        if hit is not None:
            return 1, hit
    return 1, None


def _rewrite(language: Language, query: str) -> Expansion:
    folded, raw = _split_words(query)
    english: list[str] = []
    added: list[str] = []
    i = 0
    while i < len(folded):
        n, value = _lookup(language, folded, i)
        if value is not None:
            english.append(value)
            added.append(value)
        elif folded[i] not in language.stop:
            english.extend(raw[i : i + n])
        i += n
    rewritten = " ".join(english)
    acts = _acts(_split_words(rewritten)[0])
    return Expansion(True, rewritten, (*added, *acts), tuple(acts), original=query, language=language.code)


@lru_cache(maxsize=4096)
def expand(query: str) -> Expansion:
    other = other_language(query)
    if other is not None:
        return _rewrite(other, query)
    folded, raw = _split_words(query)
    added: list[str] = []
    if is_french(query):
        english: list[str] = []
        i = 0
        while i < len(folded):
            n, value = _lookup_french(folded, i)
            if value is not None:
                english.append(value)
                added.append(value)
            elif folded[i] not in FRENCH_STOP:
                english.extend(raw[i : i + n])
            i += n
        rewritten = " ".join(english)
        acts = _acts(_split_words(rewritten)[0])
        return Expansion(True, rewritten, (*added, *acts), tuple(acts), language="fr")
    # An English query may still hold a French word of the trade ("lettrage"): its English comes along.
    i = 0
    while i < len(folded):
        n, value = _french_only(folded, i)
        if value is not None:
            added.append(value)
        i += n
    acts = _acts(folded)
    return Expansion(False, query, (*added, *acts), tuple(acts))
