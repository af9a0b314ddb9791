"""Schema -> deterministic, realistic fake data, and merging client data into a schema's shape.

``DataGenerator.generate(schema, key)`` walks a resolved schema (no ``$ref``). Every leaf value comes
from a hash of ``(seed, key, json path)``, so the same key gives the same object, and two schemas that
share a field at the same path give that field the same value (a list item and its get-one view
agree). Values are chosen from the field name and its parent's title (emails, IBANs, amounts with two
decimals, ISO dates...) and always respect the schema (types, enums, formats, bounds, lengths):
strings in ``semantics``, numbers, booleans and dates in ``scalars``; ``consistency`` then makes one
object's amounts and dates agree.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from chift_mcp.sandbox.consistency import HARMONISED_FIELDS, harmonise
from chift_mcp.sandbox.fakes import Draw, Persona, digest, persona
from chift_mcp.sandbox.scalars import boolean_for, date_for, number_for
from chift_mcp.sandbox.schema_check import first_error, is_valid
from chift_mcp.sandbox.semantics import semantic_string

MAX_DEPTH = 7
NULL_CHANCE = 0.1
OPTIONAL_NULL_CHANCE = 0.3  # an optional, nullable field is absent this often (on top of NULL_CHANCE)
_MASK = (1 << 128) - 1
_UUID_SALT = 0x5A17_5A17_5A17_5A17
_STRING_LIMITS = frozenset({"minLength", "maxLength", "pattern", "format", "enum", "const"})
_NEVER_NULL = frozenset(
    {
        "id",
        "name",
        "email",
        "currency",
        "total",
        "untaxed_amount",
        "tax_amount",
        "invoice_number",
        "invoice_date",
        "date",
        "status",
        "company_name",
        "first_name",
        "last_name",
        "amount",
        "number",
        "order_number",
        "reference",
    }
)


@dataclass(frozen=True, slots=True)
class _Item:
    """The identity of one generated object: its hash and its persona."""

    k: int
    who: Persona


def _mix(a: int, b: int) -> int:
    """Combine two 128-bit hashes (a multiply-xorshift finaliser; good enough to pick fake values)."""
    x = (a ^ (b * 0x9E3779B97F4A7C15F39CC0605CEDC835)) & _MASK
    x = ((x ^ (x >> 67)) * 0xD6E8FEB86659FD93A5B3F5A9E5E9C7F1) & _MASK
    return x ^ (x >> 61)


def _nullable(schema: Any) -> bool:
    branches = schema.get("anyOf") if isinstance(schema, dict) else None
    return isinstance(branches, list) and any(
        isinstance(b, dict) and b.get("type") == "null" for b in branches
    )


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _branch_accepts_kind(schema: dict[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    if declared is None:
        if "properties" in schema:
            return kind == "object"
        if "items" in schema:
            return kind == "array"
        return True
    declared_kinds = declared if isinstance(declared, list) else [declared]
    if kind == "integer" and "number" in declared_kinds:
        return True
    return kind in declared_kinds


class DataGenerator:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._paths: dict[str, int] = {}

    # -- public -------------------------------------------------------------------------------------

    def generate(self, schema: Any, key: str) -> Any:
        """A value valid against ``schema``, always the same for the same ``(seed, key)``."""
        return self._value(schema, self._item(key), "$", "", "", 0, None)

    def conform(self, schema: Any, value: Any, key: str) -> Any:
        """``value`` reshaped to ``schema``: its valid parts kept, the rest generated, unknown keys dropped."""
        item = self._item(key)
        fallback = self._value(schema, item, "$", "", "", 0, None)
        return self._conform(schema, value, fallback, item, "$")

    def stored(self, schema: Any, value: Any, key: str) -> Any:
        """``value`` as a connector gives back what it stored: reshaped to ``schema`` without inventing.

        A field the client did not send is the schema's default, else null when it may be, else left
        out; only a required field that cannot be null is made up (the server's part: ids, numbers).
        A value that does not fit the answer's schema is replaced by a generated one.

        Source: connectors give back the record the target software stored, not an echo and nothing
        more (docs connector pages, e.g. sevdesk: codes generated there, unneeded values ignored);
        docs/chift-contract.md rule 41. Which fields a given connector fills on read-back is not
        documented: the defaults and nulls here are a guess."""
        item = self._item(key)
        return self._stored(schema, value, item, "$", 0)

    def uuid(self, key: str) -> str:
        return str(uuid.UUID(int=digest(f"{self.seed}|uuid|{key}") & ((1 << 128) - 1), version=4))

    # -- generation ---------------------------------------------------------------------------------

    def _item(self, key: str) -> _Item:
        return _Item(digest(f"{self.seed}|{key}"), persona(key))

    def _path(self, path: str) -> int:
        found = self._paths.get(path)
        if found is None:
            if len(self._paths) > 200_000:
                self._paths.clear()
            found = self._paths[path] = digest(path)
        return found

    def _draw(self, key: _Item, path: str) -> Draw:
        return Draw(_mix(key.k, self._path(path)))

    def _value(
        self, schema: Any, key: _Item, path: str, name: str, parent: str, depth: int, examples: Any
    ) -> Any:
        if not isinstance(schema, dict) or not schema:
            return {} if depth == 0 else self._string({}, key, path, name, parent, None)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._draw(key, path).pick(schema["enum"])
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return self._any_of(schema, branches, key, path, name, parent, depth)
        if schema.get("allOf"):
            return self._value(schema["allOf"][0], key, path, name, parent, depth, examples)
        examples = schema.get("examples", examples)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self._object(schema, key, path, name, parent, depth)
        if kind == "array":
            return self._array(schema, key, path, name, parent, depth)
        if kind == "string":
            return self._string(schema, key, path, name, parent, examples)
        if kind in ("integer", "number"):
            return number_for(schema, name, self._draw(key, path), kind == "integer")
        if kind == "boolean":
            return boolean_for(name, self._draw(key, path))
        return None

    def _any_of(
        self,
        schema: dict[str, Any],
        branches: list[Any],
        key: _Item,
        path: str,
        name: str,
        parent: str,
        depth: int,
    ) -> Any:
        non_null = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if not non_null:
            return None
        draw = self._draw(key, path + "?")
        nullable = len(non_null) < len(branches)
        if nullable and (depth > MAX_DEPTH or (name not in _NEVER_NULL and draw.chance(NULL_CHANCE))):
            return None
        branch = non_null[0] if len(non_null) == 1 else draw.pick(non_null)
        return self._value(branch, key, path, name, parent, depth, schema.get("examples"))

    def _object(
        self, schema: dict[str, Any], key: _Item, path: str, name: str, parent: str, depth: int
    ) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        title = str(schema.get("title") or name or parent)
        required = schema.get("required") or ()
        out: dict[str, Any] = {}
        for prop, sub in props.items():
            where = f"{path}.{prop}"
            if (
                prop not in required
                and prop not in _NEVER_NULL
                and _nullable(sub)
                and self._draw(key, where + "~").chance(OPTIONAL_NULL_CHANCE)
            ):
                out[prop] = None
                continue
            out[prop] = self._value(sub, key, where, prop, title, depth + 1, None)
        if props and not HARMONISED_FIELDS.isdisjoint(props):
            harmonise(out, props)
        return out

    def _array(
        self, schema: dict[str, Any], key: _Item, path: str, name: str, parent: str, depth: int
    ) -> list[Any]:
        items = schema.get("items", {})
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", 1_000_000))
        if depth > MAX_DEPTH:
            count = lo
        else:
            top = 2 if depth <= 2 else 1
            count = self._draw(key, path + "#").between(max(lo, 1), max(lo, top))
        count = min(count, hi)
        return [self._value(items, key, f"{path}[{i}]", name, parent, depth + 1, None) for i in range(count)]

    def _string(
        self, schema: dict[str, Any], key: _Item, path: str, name: str, parent: str, examples: Any
    ) -> str:
        draw = self._draw(key, path)
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.UUID(int=_mix(key.k, self._path(path) ^ _UUID_SALT), version=4))
        if fmt == "date":
            return date_for(name, draw).isoformat()
        if fmt == "date-time":
            day = date_for(name, draw)
            return f"{day.isoformat()}T{draw.between(7, 19):02d}:{draw.below(60):02d}:{draw.below(60):02d}Z"
        candidates: list[str] = []
        semantic = semantic_string(name.lower(), parent.lower(), draw, key.who)
        if semantic is not None:
            if _STRING_LIMITS.isdisjoint(schema):
                return semantic
            candidates.append(semantic)
        if isinstance(examples, list):
            usable = [e for e in examples if isinstance(e, str) and "<" not in e]
            if usable:
                candidates.append(draw.pick(usable))
        if "default" in schema and isinstance(schema["default"], str):
            candidates.append(schema["default"])
        title = str(schema.get("title") or name or "value").strip()
        candidates.append(f"{title} {draw.between(1, 999)}")
        for candidate in candidates:
            fitted = _fit_length(schema, candidate)
            if first_error(schema, fitted) is None:
                return fitted
        return _fit_length(schema, "A1")

    # -- storing ------------------------------------------------------------------------------------

    def _stored(self, schema: Any, value: Any, key: _Item, path: str, depth: int) -> Any:
        if not isinstance(schema, dict) or not schema:
            return value
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            if value is None and is_valid(schema, None):
                return None
            kind = _kind_of(value)
            for branch in branches:
                if (
                    isinstance(branch, dict)
                    and branch.get("type") != "null"
                    and _branch_accepts_kind(branch, kind)
                ):
                    fitted = self._stored(branch, value, key, path, depth)
                    if is_valid(branch, fitted):
                        return fitted
            return self._value(schema, key, path, "", "", depth, None)
        props = schema.get("properties")
        if props and isinstance(value, dict):
            required = set(schema.get("required") or ())
            title = str(schema.get("title") or "")
            out: dict[str, Any] = {}
            for prop, sub in props.items():
                where = f"{path}.{prop}"
                if prop in value:
                    out[prop] = self._stored(sub, value[prop], key, where, depth + 1)
                elif isinstance(sub, dict) and "default" in sub:
                    out[prop] = copy.deepcopy(sub["default"])
                elif is_valid(sub, None):
                    out[prop] = None
                elif prop in required:
                    out[prop] = self._value(sub, key, where, prop, title, depth + 1, None)
            return (
                out
                if is_valid(schema, out)
                else self._conform(
                    schema, value, self._value(schema, key, path, "", "", depth, None), key, path
                )
            )
        if isinstance(schema.get("items"), dict) and isinstance(value, list):
            stored_list = [
                self._stored(schema["items"], v, key, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)
            ]
            if is_valid(schema, stored_list):
                return stored_list
        return value if is_valid(schema, value) else self._value(schema, key, path, "", "", depth, None)

    # -- conforming ---------------------------------------------------------------------------------

    def _conform(self, schema: Any, value: Any, fallback: Any, key: _Item, path: str) -> Any:
        if not isinstance(schema, dict) or not schema:
            return value
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            if value is None:
                return None if is_valid(schema, None) else fallback
            kind = _kind_of(value)
            for branch in branches:
                if not isinstance(branch, dict) or branch.get("type") == "null":
                    continue
                if not _branch_accepts_kind(branch, kind):
                    continue
                fb = (
                    fallback
                    if is_valid(branch, fallback)
                    else self._value(branch, key, path, "", "", 3, None)
                )
                merged = self._conform(branch, value, fb, key, path)
                if is_valid(branch, merged):
                    return merged
            return fallback
        props = schema.get("properties")
        if props and isinstance(value, dict) and isinstance(fallback, dict):
            out: dict[str, Any] = {}
            for prop, sub in props.items():
                if prop in value:
                    out[prop] = self._conform(sub, value[prop], fallback.get(prop), key, f"{path}.{prop}")
                elif prop in fallback:
                    out[prop] = fallback[prop]
            return out if is_valid(schema, out) else fallback
        if isinstance(schema.get("items"), dict) and isinstance(value, list) and isinstance(fallback, list):
            items = schema["items"]
            out_list = []
            for i, item in enumerate(value):
                fb_item = (
                    fallback[i]
                    if i < len(fallback)
                    else self._value(items, key, f"{path}[{i}]", "", "", 3, None)
                )
                out_list.append(self._conform(items, item, fb_item, key, f"{path}[{i}]"))
            return out_list if is_valid(schema, out_list) else fallback
        return value if is_valid(schema, value) else fallback


# -- helpers ----------------------------------------------------------------------------------------


def _fit_length(schema: dict[str, Any], value: str) -> str:
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    min_len = schema.get("minLength")
    if isinstance(min_len, int) and len(value) < min_len:
        value = value + "0" * (min_len - len(value))
    return value
