"""Keep secrets out of the errors the Chift client raises.

A :class:`Scrubber` asks its source for the current secrets (the client secret, the current and
recent access tokens, or the pass-through caller's token) and replaces each by ``***`` in strings,
and in the keys and values of nested lists and dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import ChiftAPIError, ToolError

__all__ = ["MASK", "Scrubber"]

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values are not secrets worth masking (and would mask ordinary text)


class Scrubber:
    """Masks the secrets ``source()`` names (asked anew each time: tokens change)."""

    def __init__(self, source: Callable[[], Iterable[str | None]]) -> None:
        self._source = source

    def _secrets(self) -> list[str]:
        return [s for s in self._source() if s and len(s) >= MIN_SECRET_LENGTH]

    def text(self, text: str) -> str:
        return _walk(text, self._secrets())

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys included, at any depth) scrubbed."""
        return _walk(value, self._secrets())

    def error(self, exc: ToolError) -> ToolError:
        """Scrub, in place, the message, hint and detail of ``exc``; returns ``exc``."""
        secrets = self._secrets()
        exc.message = _walk(exc.message, secrets)
        exc.args = (exc.message,)
        if exc.hint:
            exc.hint = _walk(exc.hint, secrets)
        if isinstance(exc, ChiftAPIError):
            exc.detail = _walk(exc.detail, secrets)
        return exc


def _walk(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, list):
        return [_walk(v, secrets) for v in value]
    if isinstance(value, dict):
        return {_walk(k, secrets): _walk(v, secrets) for k, v in value.items()}
    return value
