"""Keep secrets out of everything the Chift client hands back.

A :class:`Scrubber` asks its source for the current secrets (the client secret, the current and
recent access tokens, or the pass-through caller's token) and replaces each by ``***`` wherever it
appears as itself, JSON-escaped (``"`` as ``\\"``, ``\\`` as ``\\\\``, ``/`` as ``\\/``, non-ASCII as
``\\uXXXX``), or URL-encoded, in any letter case: in strings, and in the keys and values of nested
lists and dicts.

A successful answer is scanned once, as raw bytes, for any form of any secret; only when one is there
is its decoded JSON walked, so a clean answer costs one ``bytes.lower()`` and a few substring tests.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from chift_mcp.errors import ChiftAPIError, ToolError, UpstreamError

__all__ = ["MASK", "Scrubber", "forms_of"]

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values are not secrets worth masking (and would mask ordinary text)
PREFIX = 12  # bytes of a needle searched first, once for all the needles that share them


def forms_of(secret: str) -> set[str]:
    """The ways ``secret`` can be spelled in an answer (letter case aside)."""
    forms = {secret}
    for ensure_ascii in (False, True):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    forms.update((quote(secret, safe=""), quote(secret), quote_plus(secret)))
    return forms


class _Patterns:
    """Every form of a set of secrets: a regex for replacing, lowered needles for the raw scan.

    The needles are grouped by their first bytes: tokens from one issuer share a prefix (a JWT's
    header), so the scan of an answer is one substring search per group, not per token and form.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        forms = sorted({f for s in secrets for f in forms_of(s)}, key=len, reverse=True)
        self.regex = re.compile("|".join(map(re.escape, forms)), re.IGNORECASE)
        lowered = {f.lower() for f in forms}
        self.ascii = all(f.isascii() for f in lowered)
        self.groups: dict[bytes, tuple[bytes, ...]] = {}
        if self.ascii:
            for needle in sorted(f.encode("ascii") for f in lowered):
                prefix = needle[:PREFIX]
                self.groups[prefix] = (*self.groups.get(prefix, ()), needle)
        self.text_needles = tuple(lowered)

    def in_raw(self, raw: bytes) -> bool:
        if self.ascii:
            low = raw.lower()
            return any(
                prefix in low and any(n in low for n in needles) for prefix, needles in self.groups.items()
            )
        text = raw.decode("utf-8", "replace").lower()
        return any(n in text for n in self.text_needles)


@functools.lru_cache(maxsize=128)
def _patterns(secrets: tuple[str, ...]) -> _Patterns:
    return _Patterns(secrets)


class Scrubber:
    """Masks the secrets ``source()`` names (asked anew each time: tokens change)."""

    def __init__(self, source: Callable[[], Iterable[str | None]]) -> None:
        self._source = source

    def _current(self) -> _Patterns | None:
        secrets = tuple(sorted({s for s in self._source() if s and len(s) >= MIN_SECRET_LENGTH}))
        return _patterns(secrets) if secrets else None

    def text(self, text: str) -> str:
        patterns = self._current()
        return patterns.regex.sub(MASK, text) if patterns else text

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys included, at any depth) scrubbed."""
        patterns = self._current()
        return _walk(value, patterns.regex) if patterns else value

    def answer(self, raw: bytes, decoded: Any) -> Any:
        """``decoded`` (the JSON of ``raw``) scrubbed; walked only if ``raw`` holds a form of a secret."""
        patterns = self._current()
        if patterns is None or not patterns.in_raw(raw):
            return decoded
        return _walk(decoded, patterns.regex)

    def error(self, exc: ToolError) -> ToolError:
        """Scrub, in place, every text of ``exc`` the agent or a log can see; returns ``exc``."""
        patterns = self._current()
        if patterns is None:
            return exc
        sub = functools.partial(patterns.regex.sub, MASK)
        exc.message = sub(exc.message)
        exc.args = (exc.message,)
        if exc.hint:
            exc.hint = sub(exc.hint)
        if isinstance(exc, UpstreamError) and exc.request_id:
            exc.request_id = sub(exc.request_id)
        if isinstance(exc, ChiftAPIError):
            if exc.error_code:
                exc.error_code = sub(exc.error_code)
            exc.detail = _walk(exc.detail, patterns.regex)
        return exc


def _walk(value: Any, regex: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return regex.sub(MASK, value)
    if isinstance(value, list):
        return [_walk(v, regex) for v in value]
    if isinstance(value, dict):
        return {_walk(k, regex): _walk(v, regex) for k, v in value.items()}
    return value
