"""The operation finder: rank the operations a caller may use for a sentence saying what they want.

Lexical, no model needed. Each operation is a document of weighted fields — its name, summary,
description, the words of its domain, its argument names and enum values — scored with BM25F
against the question. The question is read the way an accountant or a developer writes it: French, Dutch,
German and Spanish words and everyday business words add the API's words for them
(:mod:`chift_mcp.tools.vocabulary`, one data file per further language), the
verb says which kind of operation is wanted (a read, a create, an update, a delete) and a software
or domain word which domain; both nudge the score. Each operation also carries the sentences people
use to ask for it (``data/utterances.json``: five English, three French, three Dutch, two German
and two Spanish each, written from the spec and the docs), the field that matches paraphrases. Sentence vectors (MiniLM) were measured
fused with this ranking and did not help (bench/discovery_eval.py), so the finder is the same with
or without the ``[search]`` extra.

Discovery mode's ``find_operations`` (and any mode that finds operations) uses this ranking, over
the operations of the caller's view (``View.finder``).
"""

from __future__ import annotations

__all__ = ["OperationFinder", "Weights", "read", "stem", "words"]

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.vocabulary import (
    BUSINESS,
    CONNECTORS,
    DOMAIN_CUES,
    DOMAIN_WORDS,
    FRENCH,
    INTENT,
    LANGUAGE_STOP,
    LANGUAGES,
    ONE,
    STOP,
)

_WORD = re.compile(r"[a-z0-9]+")
# Function words of every language the finder reads; a word that is also an English content word
# of the API ("post", "bank") is never one.
_STOP = STOP.union(*LANGUAGE_STOP.values())


@dataclass(frozen=True)
class Weights:
    """The finder's parameters (chosen on the dev split of bench/eval/discovery_tasks.jsonl)."""

    name: float = 3.0
    summary: float = 1.0
    description: float = 1.0
    domain: float = 1.0
    args: float = 1.0
    asks: float = 2.0  # the sentences people use for the operation (data/utterances.json)
    expansion: float = 1.0  # a word the vocabulary added, against one the asker wrote
    kind_match: float = 0.5  # score x (1 + this) when the verb asks for this kind
    kind_clash: float = 0.35  # score x (1 - this) for a write when a read is asked, or the reverse
    domain_match: float = 0.5  # score x (1 + this) when a software or domain word names the domain
    one_match: float = 0.3  # score x (1 + this) for a read of one object when the asker says "one"
    k1: float = 1.2
    b: float = 0.75


def fold(text: str) -> str:
    """Lower case without accents, apostrophes as spaces: "l'écriture" -> "l ecriture"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("'", " ").replace("’", " ")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A light English stem: plurals and a few verb endings ("entries" -> "entry", "matched" -> "match")."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(suffix):
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4 and not word.endswith("eed"):
        return word[:-2]
    return word


def words(text: str) -> list[str]:
    """Content words of ``text`` (folded, underscores split, stop words out), each as its stem and,
    when that differs, as written too: "journals" matches a list better than "journal" does."""
    out: list[str] = []
    for w in _WORD.findall(fold(text).replace("_", " ")):
        if w in _STOP:
            continue
        s = stem(w)
        out.append(s)
        if s != w:
            out.append(w)
    return out


def _phrase_table(*tables: dict[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """Vocabulary keys as word tuples, longest first, so "note de frais" wins over "frais"."""
    entries = {tuple(_WORD.findall(k)): v for table in tables for k, v in table.items()}
    return sorted(entries.items(), key=lambda kv: -len(kv[0]))


_EXPANSIONS = _phrase_table(FRENCH, BUSINESS)
# Dutch, German, Spanish (data/languages/), longest phrase first. (Snowball stems of these words
# were measured and did not help on the dev split, so the finder needs nothing beyond the core.)
_FOREIGN = dict(_phrase_table(*LANGUAGES.values()))
_LONGEST = max((len(k) for k in _FOREIGN), default=1)


def translate(raw: list[str]) -> tuple[list[str], list[str]]:
    """Words of the further languages in English: (the words read in order with translations in
    place, for the verb; the translations alone, for the terms)."""
    read_as: list[str] = []
    added: list[str] = []
    i = 0
    while i < len(raw):
        english: str | None = None
        for n in range(min(_LONGEST, len(raw) - i), 0, -1):
            english = _FOREIGN.get(tuple(raw[i : i + n]))
            if english is not None:
                break
        else:
            n = 1
        if english is None:
            read_as.append(raw[i])
        else:
            read_as.extend(_WORD.findall(english))
            added.append(english)
        i += n
    return read_as, added


_INTENTS = sorted(
    ((tuple(_WORD.findall(fold(v))), kind) for kind, verbs in INTENT.items() for v in verbs),
    key=lambda kv: -len(kv[0]),
)
_ONE = [tuple(_WORD.findall(fold(p))) for p in ONE]
_CUES = [
    (tuple(_WORD.findall(fold(n))), d)
    for table in (CONNECTORS, DOMAIN_CUES)
    for d, names in table.items()
    for n in names
]


@dataclass(frozen=True)
class Question:
    """A question as the finder reads it."""

    terms: dict[str, float]  # stemmed term -> weight
    kind: str | None  # the kind the first verb asks for
    domains: frozenset[str]  # domains a software name or domain word points at
    one: bool  # the asker wants one object: "one", "a single", "by id", "un seul"...


def read(query: str, weights: Weights = Weights()) -> Question:
    raw = _WORD.findall(fold(query).replace("_", " "))
    terms: Counter[str] = Counter()
    for w in words(" ".join(raw)):
        terms[w] = 1.0  # type: ignore[assignment]
    read_as, foreign = translate(raw)  # (matching the other tables against read_as was measured: no help)
    for phrase, english in _EXPANSIONS:
        if _contains(raw, phrase):
            foreign.append(english)
    for english in foreign:
        for w in words(english):
            terms[w] = max(terms[w], weights.expansion)  # type: ignore[assignment]
    kind = _kind(raw) or _kind(read_as)
    domains = {d for phrase, d in _CUES if _contains(raw, phrase)}
    one = any(_contains(raw, phrase) for phrase in _ONE)
    return Question(dict(terms), kind, frozenset(domains), one)


def _kind(seq: list[str]) -> str | None:
    return next((k for i in range(len(seq)) for p, k in _INTENTS if tuple(seq[i : i + len(p)]) == p), None)


def _contains(seq: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if n == 1:
        return phrase[0] in seq
    return any(tuple(seq[i : i + n]) == phrase for i in range(len(seq) - n + 1))


@lru_cache(maxsize=1)
def utterances() -> dict[str, list[str]]:
    """How people ask for each operation, every language together, by operationId
    (``chift_mcp/tools/data/utterances.json``, written from the spec and the docs)."""
    import json
    from importlib.resources import files

    raw = json.loads(files("chift_mcp.tools").joinpath("data/utterances.json").read_text(encoding="utf-8"))
    return {
        op: [line for sentences in lines.values() for line in sentences]
        for op, lines in raw.items()
        if not op.startswith("_")
    }


def fields(tool: ToolSpec) -> dict[str, list[str]]:
    """An operation's searchable text, by field."""
    op = tool.operation
    properties = tool.input_schema.get("properties", {})
    enums = [str(v) for p in properties.values() for v in p.get("enum", [])]
    summary = op.summary if op is not None else tool.title
    description = op.description if op is not None else tool.description
    return {
        "name": words(tool.name),
        "summary": words(f"{summary} {' '.join(op.tags) if op else ''}"),
        "description": words(description[:400]),
        "domain": words(DOMAIN_WORDS.get(tool.domain, tool.domain)),
        "args": words(" ".join([*properties, *enums])),
        "asks": words(" ".join(utterances().get(op.id if op is not None else tool.name, []))),
    }


class OperationFinder:
    """BM25F over each operation's fields, nudged by the asked kind and domain."""

    def __init__(self, tools: Iterable[ToolSpec], *, weights: Weights = Weights()) -> None:
        self.tools = list(tools)
        self.weights = weights
        w = weights
        field_weights = {
            "name": w.name,
            "summary": w.summary,
            "description": w.description,
            "domain": w.domain,
            "args": w.args,
            "asks": w.asks,
        }
        self.docs: list[dict[str, float]] = []
        self.lengths: list[float] = []
        for tool in self.tools:
            tf: Counter[str] = Counter()
            length = 0.0
            for field, terms in fields(tool).items():
                for term in terms:
                    tf[term] += field_weights[field]  # type: ignore[assignment]
                length += field_weights[field] * len(terms)
            self.docs.append(dict(tf))
            self.lengths.append(length)
        self.avg = sum(self.lengths) / max(len(self.lengths), 1)
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    def search(self, query: str, limit: int) -> list[tuple[float, ToolSpec]]:
        return self._bm25(read(query, self.weights))[:limit]

    def _bm25(self, q: Question) -> list[tuple[float, ToolSpec]]:
        w = self.weights
        scored = []
        for doc, length, tool in zip(self.docs, self.lengths, self.tools, strict=True):
            score = 0.0
            norm = w.k1 * (1 - w.b + w.b * length / self.avg)
            for term, weight in q.terms.items():
                f = doc.get(term)
                if f:
                    score += weight * self.idf[term] * f * (w.k1 + 1) / (f + norm)
            if score <= 0:
                continue
            scored.append((score * _prior(tool, q, w), tool))
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        return scored


def _prior(tool: ToolSpec, q: Question, w: Weights) -> float:
    factor = 1.0
    if q.kind is not None:
        if tool.kind == q.kind:
            factor *= 1 + w.kind_match
        elif (tool.kind == "get") != (q.kind == "get"):
            factor *= 1 - w.kind_clash
    if q.domains and tool.domain in q.domains:
        factor *= 1 + w.domain_match
    if q.one and tool.kind == "get" and tool.operation is not None and tool.operation.path.endswith("}"):
        factor *= 1 + w.one_match
    return factor
