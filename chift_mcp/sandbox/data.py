"""Schema -> deterministic, realistic fake data, and merging client data into a schema's shape.

``DataGenerator.generate(schema, key)`` walks a resolved schema (no ``$ref``). Every leaf value comes
from a hash of ``(seed, key, json path)``, so the same key gives the same object, and two schemas that
share a field at the same path give that field the same value (a list item and its get-one view
agree). Values are chosen from the field name and its parent's title (emails, IBANs, amounts with two
decimals, ISO dates...) and always respect the schema (types, enums, formats, bounds, lengths).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chift_mcp.sandbox.fakes import Draw, Persona, digest, persona
from chift_mcp.sandbox.schema_check import first_error, is_valid
from chift_mcp.sandbox.semantics import semantic_string

MAX_DEPTH = 7
NULL_CHANCE = 0.1
OPTIONAL_NULL_CHANCE = 0.3  # an optional, nullable field is absent this often (on top of NULL_CHANCE)
_EPOCH = date(2024, 1, 1)
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
_LINE_KEYS = ("lines", "items", "invoice_lines", "order_lines")
_ORDERED_TIMES = (
    ("created_on", "last_updated_on"),
    ("created_on", "updated_on"),
    ("created_on", "modified_on"),
    ("creation_date", "closing_date"),
    ("created_at", "updated_at"),
    ("start", "end"),
)
_HARMONY = frozenset(
    {"untaxed_amount", "tax_amount", "debit", "currency_exchange_rate", "due_date", "end_date", "date_to"}
    | {name for pair in _ORDERED_TIMES for name in pair}
)

_MONEY = (
    "amount",
    "total",
    "price",
    "balance",
    "debit",
    "credit",
    "cost",
    "fee",
    "tip",
    "discount",
    "refund",
    "montant",
    "other",
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
            return self._number(schema, key, path, name, kind == "integer", examples)
        if kind == "boolean":
            return self._boolean(key, path, name)
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
        if props and not _HARMONY.isdisjoint(props):
            _harmonise(out, props)
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

    def _boolean(self, key: _Item, path: str, name: str) -> bool:
        draw = self._draw(key, path)
        n = name.lower()
        if n in ("is_company", "active", "enabled", "posted", "is_active", "visible", "available"):
            return draw.chance(0.8)
        if n.startswith(("is_deleted", "deleted", "archived", "is_archived")):
            return draw.chance(0.05)
        return draw.chance(0.5)

    def _number(
        self, schema: dict[str, Any], key: _Item, path: str, name: str, integer: bool, examples: Any
    ) -> int | float:
        draw = self._draw(key, path)
        n = name.lower()
        value: float
        if integer:
            value = _integer_for(n, draw)
        elif "exchange_rate" in n:
            value = 1.0
        elif "rate" in n or n in ("vat", "tax"):
            value = draw.pick((21.0, 21.0, 12.0, 6.0, 0.0))
        elif "percent" in n:
            value = draw.pick((100.0, 50.0, 25.0))
        elif n == "probability":
            value = float(draw.pick((10, 25, 50, 75, 90)))
        elif "quantity" in n or n == "guests":
            value = float(draw.between(1, 12))
        elif n == "weight":
            value = draw.between(1, 250) / 10
        elif n in ("unit_price", "price", "cost", "delivery_fee", "fee", "tip"):
            value = draw.between(100, 50_000) / 100
        elif any(word in n for word in _MONEY):
            value = draw.between(500, 500_000) / 100
        else:
            value = draw.between(100, 100_000) / 100
        return _clamp(schema, value, integer)

    def _string(
        self, schema: dict[str, Any], key: _Item, path: str, name: str, parent: str, examples: Any
    ) -> str:
        draw = self._draw(key, path)
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.UUID(int=_mix(key.k, self._path(path) ^ _UUID_SALT), version=4))
        if fmt == "date":
            return _date_for(name, draw).isoformat()
        if fmt == "date-time":
            day = _date_for(name, draw)
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


def _clamp(schema: dict[str, Any], value: float, integer: bool) -> int | float:
    if "minimum" in schema and value < schema["minimum"]:
        value = schema["minimum"]
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + (1 if integer else 0.01)
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - (1 if integer else 0.01)
    if integer:
        return int(value)
    return round(float(value), 2)


def _integer_for(n: str, draw: Draw) -> int:
    if n in ("quantity", "current_quantity", "guests"):
        return draw.between(1, 12)
    if n in ("status_code", "httpstatus"):
        return 200
    if n == "expires_in":
        return 1800
    if n in ("integrationid", "integration_id"):
        return draw.between(1000, 9999)
    if n in ("display_order", "line_number", "page"):
        return draw.between(1, 20)
    if n in ("size", "page_size", "limit"):
        return 50
    if n in ("year", "fiscal_year"):
        return draw.between(2023, 2025)
    if n in ("occurrences", "attempts", "fiscal_years_back"):
        return draw.between(1, 5)
    if n == "expires_on":
        return 1_767_225_600 + draw.below(86_400)
    return draw.between(0, 250)


def _date_for(name: str, draw: Draw) -> date:
    n = name.lower()
    if "birth" in n:
        return date(1960, 1, 1) + timedelta(days=draw.below(365 * 40))
    return _EPOCH + timedelta(days=draw.below(730))


def _fit_length(schema: dict[str, Any], value: str) -> str:
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    min_len = schema.get("minLength")
    if isinstance(min_len, int) and len(value) < min_len:
        value = value + "0" * (min_len - len(value))
    return value


def _harmonise(obj: dict[str, Any], props: dict[str, Any]) -> None:
    """Make amounts, dates and rates of one object agree; keeps every change schema-valid."""
    changes: dict[str, Any] = {}

    def num(name: str) -> float | None:
        value = changes.get(name, obj.get(name))
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    unit_price, quantity, untaxed = num("unit_price"), num("quantity"), num("untaxed_amount")
    if unit_price is not None and quantity is not None and untaxed is not None:
        changes["untaxed_amount"] = round(unit_price * quantity, 2)
    lines = next((obj[k] for k in _LINE_KEYS if isinstance(obj.get(k), list) and obj[k]), None)
    if lines and all(isinstance(line, dict) for line in lines):
        for field_name in ("untaxed_amount", "tax_amount", "total"):
            values = [line.get(field_name) for line in lines]
            if num(field_name) is not None and all(isinstance(v, int | float) for v in values):
                changes[field_name] = round(sum(values), 2)
    untaxed, tax, total = num("untaxed_amount"), num("tax_amount"), num("total")
    if untaxed is not None and tax is not None and not lines:
        rate = num("tax_rate")
        tax = round(untaxed * (rate if rate is not None else 21.0) / 100, 2)
        changes["tax_amount"] = tax
    if untaxed is not None and tax is not None and total is not None:
        changes["total"] = round(untaxed + tax, 2)
    debit, credit = num("debit"), num("credit")
    if debit is not None and credit is not None and debit and credit:
        changes["credit" if int(debit * 100) % 2 else "debit"] = 0.0
    if obj.get("currency") == "EUR" and num("currency_exchange_rate") is not None:
        changes["currency_exchange_rate"] = 1.0
    for start, end, days in (
        ("invoice_date", "due_date", 30),
        ("date", "due_date", 30),
        ("start_date", "end_date", 90),
        ("date_from", "date_to", 30),
    ):
        first, second = obj.get(start), obj.get(end)
        if isinstance(first, str) and isinstance(second, str) and len(first) == len(second) == 10:
            with contextlib.suppress(ValueError):
                changes[end] = (date.fromisoformat(first) + timedelta(days=days)).isoformat()
    for early, late in _ORDERED_TIMES:
        first, second = obj.get(early), obj.get(late)
        if (
            isinstance(first, str)
            and isinstance(second, str)
            and len(first) == len(second)
            and first > second
        ):
            changes[early], changes[late] = second, first
    for name, value in changes.items():
        if name in props and is_valid(props[name], value):
            obj[name] = value
