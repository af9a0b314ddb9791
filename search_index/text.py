"""Text normalization shared by the build and the query: Markdown unescaping and BM25 terms.

``unescape`` turns the docs' Markdown escapes back into the characters a reader types
(``ERROR\\_PARTNER\\_ALREADY\\_EXISTS`` -> ``ERROR_PARTNER_ALREADY_EXISTS``) and drops the
trailing-backslash line breaks. ``terms`` gives the BM25 terms of a text: lower-cased words, split at
anything that is not a letter or a digit, English stop words left out, Snowball-stemmed (English),
and for an identifier (``customer_refund``, ``X-Chift-Client-RequestId``) the whole identifier as one
more term, so an exact identifier outweighs its common parts.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!&~$|<>])")
_HARD_BREAK = re.compile(r"[ \t]*\\$", re.MULTILINE)
_WORD = re.compile(r"[0-9a-z]+")
# Identifiers: snake_case or SCREAMING_CASE, camelCase, dotted names (account.connection.created) and
# capitalised hyphenated names (X-Chift-ConnectionId); not plain hyphenated words (end-of-day).
_IDENT = re.compile(
    r"\b(?:[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+"
    r"|[a-z]{2,}(?:\.[a-z_]{2,})+"
    r"|[A-Z][A-Za-z0-9]*(?:-[A-Z][A-Za-z0-9]*)+"
    r"|[a-z]+[A-Z][A-Za-z0-9]*)\b"
)

# The usual English stop words of full-text engines (Lucene's list, as LanceDB/tantivy use).
STOP_WORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with""".split()
)


def unescape(text: str) -> str:
    """The text with Markdown backslash escapes and hard-break backslashes removed."""
    return _ESCAPE.sub(r"\1", _HARD_BREAK.sub("", text))


def fold(text: str) -> str:
    """Lower case without accents (``Écriture`` -> ``ecriture``); other non-ASCII letters are
    dropped, the same way for the docs and the queries."""
    text = text.lower()
    if text.isascii():
        return text
    text = text.translate(_LIGATURES)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "’": "'"})


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def words(text: str) -> list[str]:
    """Lower-cased, accent-folded words of ``text``."""
    return _WORD.findall(fold(text))


def terms(text: str) -> list[str]:
    """The BM25 terms of ``text`` (see the module docstring)."""
    out = [stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]
    out.extend("=" + fold(m) for m in _IDENT.findall(text))
    return out
