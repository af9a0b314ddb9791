"""A program's values made JSON, measured while they are converted: past the cap the conversion stops.

pydantic-monty hands the host a program's value (``MontyComplete.output``) and an operation call's
arguments (``snapshot.kwargs``) as Python objects that keep the interpreter's shared references: after
``x = [1]; for i in range(30): x = [x, x]`` the host holds 31 lists, but JSON of it has 2^30 items.
Converting it whole (``to_jsonable_python``, ``dumps``) expands it first and measures it after: at
N=22, 760 MB and 17 s of a blocked event loop. :func:`to_json_value` walks the value instead,
counting the JSON characters each part adds — a shared part each time it would be written, from its
size measured the first time, without walking it again — and stops at the first character past
``cap``: the work done is bounded by the cap, whatever the value (and a value that shares its parts
reaches it in as many steps as it has levels). The data it returns shares those parts too; its JSON
is at most ``cap`` characters. The runner calls it in a worker thread, off the event loop.

Types: ``str``, numbers, booleans and ``None`` as they are (NaN and infinities as ``null``); lists,
tuples, sets and named tuples as lists; dicts as objects (keys as text: ``1`` → ``"1"``, a tuple's
parts joined with commas, as pydantic writes them); an instance of a class of the program as the
object of its attributes; ``bytes`` as UTF-8 text (invalid bytes replaced); dates and times in ISO
format; anything else as its type's name in angle brackets (``<function>``), never its ``repr``,
which could expand what it holds.
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from typing import Any

from pydantic_core import to_jsonable_python

MAX_DEPTH = 200  # nesting levels; pydantic_core's JSON encoder refuses values nested past ~250
_LEAVES = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)
_DIGITS_PER_BIT = math.log10(2)
_STR_BITS = 14_000  # ints below this many bits have under 4300 digits
# what JSON escapes, and the characters each escape adds: '"', '\\' and \b \f \n \r \t one (a
# backslash), the other control characters five (\u00XX)
_ESCAPES = tuple((c, 1) for c in '"\\\b\f\n\r\t') + tuple(
    (chr(i), 5) for i in range(32) if chr(i) not in "\b\f\n\r\t"
)


def json_chars(text: str) -> int:
    """The length of ``text`` written as a JSON string, quotes and escapes included (what ``dumps``
    writes: non-ASCII as it is). Printable text without quotes or backslashes is only measured;
    otherwise each escaped character is counted (one pass in C each), never written."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(text) + 2 + sum(text.count(c) * extra for c, extra in _ESCAPES)


class TooLarge(Exception):
    """The value's JSON would pass the cap: ``size`` characters counted when the walk stopped."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class TooDeep(Exception):
    """The value is nested deeper than :data:`MAX_DEPTH`."""


def to_json_value(value: Any, cap: int) -> tuple[Any, int]:
    """``value`` as plain JSON data (no shared parts) and the length of its compact JSON text, which
    is at most ``cap``; raise :class:`TooLarge` past it and :class:`TooDeep` past
    :data:`MAX_DEPTH`. Strings are counted with their quotes but without escapes: the count is a
    lower bound within a few percent for ordinary text."""
    walk = _Walk(cap)
    return walk.convert(value, 0), walk.size


class _Walk:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.deepest = 0  # the depth of the deepest container met so far
        # each container converted, by id: (itself, kept so that its id is not reused; its data, its
        # JSON size, its height). Met again, it is counted again without a walk: a value that shares
        # its parts reaches the cap in as many steps as it has levels.
        self.seen: dict[int, tuple[Any, Any, int, int]] = {}

    def add(self, chars: int) -> None:
        self.size += chars
        if self.size > self.cap:
            raise TooLarge(self.size)

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            self.add(4 if value is not False else 5)
            return value
        if isinstance(value, str):
            self.add(json_chars(value))
            return value
        if isinstance(value, int):
            bits = value.bit_length()  # str() of an int past 4300 digits is a ValueError: estimated
            self.add(len(str(value)) if bits < _STR_BITS else int(bits * _DIGITS_PER_BIT) + 2)
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                self.add(4)
                return None
            self.add(len(repr(value)))
            return value
        if depth >= MAX_DEPTH:
            raise TooDeep
        if isinstance(value, (list, tuple, set, frozenset, dict)):
            return self.container(value, depth)
        attributes = getattr(value, "attributes", None)  # pydantic_monty.MontyClassProxy
        if isinstance(attributes, dict) and type(value).__module__.startswith("pydantic_monty"):
            return self.mapping(attributes, depth)
        return self.convert(_leaf(value), depth)

    def container(self, value: Any, depth: int) -> Any:
        seen = self.seen.get(id(value))
        if seen is not None:
            _, data, size, height = seen
            if depth + height >= MAX_DEPTH:
                raise TooDeep
            self.add(size)
            self.deepest = max(self.deepest, depth + height)
            return data  # shared, as in the program: what is written from it is counted
        outer, start = self.deepest, self.size
        self.deepest = depth
        data = self.mapping(value, depth) if isinstance(value, dict) else self.items(value, depth)
        height = self.deepest - depth
        self.deepest = max(outer, self.deepest)
        self.seen[id(value)] = (value, data, self.size - start, height)
        return data

    def items(self, values: Any, depth: int) -> list[Any]:
        self.add(2)
        out = []
        for i, item in enumerate(values):
            if i:
                self.add(1)
            out.append(self.convert(item, depth + 1))
        return out

    def mapping(self, values: dict[Any, Any], depth: int) -> dict[str, Any]:
        self.add(2)
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(values.items()):
            self.add(4 if i else 3)  # the key's quotes and colon, and the comma before all but the first
            out[self.key(key, depth + 1)] = self.convert(item, depth + 1)
        return out

    def key(self, key: Any, depth: int) -> str:
        """A dict key as pydantic writes it, counted (a tuple key's parts one by one: it can be a
        bomb too)."""
        if isinstance(key, tuple):
            if depth >= MAX_DEPTH:
                raise TooDeep
            parts = []
            for i, part in enumerate(key):
                if i:
                    self.add(1)
                parts.append(self.key(part, depth + 1))
            return ",".join(parts)
        if isinstance(key, str):
            text = key
        elif key is None:
            text = "None"
        elif isinstance(key, bool):
            text = "true" if key else "false"
        elif isinstance(key, (int, float)):
            text = str(to_jsonable_python(key))
        else:
            text = str(_leaf(key))
        self.add(json_chars(text) - 2)  # its quotes are counted with the colon
        return text


def _leaf(value: Any) -> Any:
    """A value of no JSON type: a date or time in ISO format, bytes as text, else the type's name."""
    if isinstance(value, _LEAVES):
        return to_jsonable_python(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return f"<{type(value).__name__}>"
