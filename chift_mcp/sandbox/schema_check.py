"""A small, fast JSON Schema checker for the keyword subset the Chift spec uses.

Used on hot paths (query parameters, merging request bodies into generated data) where building a
``jsonschema`` validator per sub-schema would cost too much. Request bodies are validated with
``jsonschema`` itself (see ``validation.py``); tests check generated data with ``jsonschema`` too.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from functools import lru_cache
from typing import Any

_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def check_format(fmt: str, value: str, *, lenient: bool = False) -> bool:
    """Formats as the Chift API (pydantic) reads them; unknown formats pass.

    ``lenient`` accepts a plain date for ``date-time`` (pydantic does, for input); data the sandbox
    answers with is always checked strictly.
    """
    try:
        if fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "date":
            if len(value) != 10:
                return False
            date.fromisoformat(value)
        elif fmt == "date-time":
            if len(value) <= 10 and not lenient:
                return False
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def first_error(schema: Any, value: Any) -> str | None:
    """The first reason ``value`` is invalid against ``schema``, or None when it is valid."""
    if schema is True or not isinstance(schema, dict):
        return None
    if "anyOf" in schema or "oneOf" in schema:
        branches = schema.get("anyOf") or schema.get("oneOf") or []
        reasons = [first_error(branch, value) for branch in branches]
        if all(reasons):
            non_null = [r for b, r in zip(branches, reasons, strict=True) if b.get("type") != "null"]
            return non_null[0] if len(non_null) == 1 else "Input does not match any of the allowed schemas"
    for sub in schema.get("allOf", ()):
        reason = first_error(sub, value)
        if reason:
            return reason
    if "const" in schema and value != schema["const"]:
        return f"Input should be {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return "Input should be " + " or ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES[k](value) for k in kinds if k in _TYPES):
            return f"Input should be a valid {' or '.join(kinds)}"
    if isinstance(value, str):
        return _string_error(schema, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_error(schema, value)
    if isinstance(value, list):
        return _array_error(schema, value)
    if isinstance(value, dict):
        return _object_error(schema, value)
    return None


def _string_error(schema: dict[str, Any], value: str) -> str | None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"String should have at least {schema['minLength']} characters"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"String should have at most {schema['maxLength']} characters"
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        return f"String should match pattern '{schema['pattern']}'"
    fmt = schema.get("format")
    if fmt and not check_format(fmt, value):
        return f"Input should be a valid {fmt}"
    return None


def _number_error(schema: dict[str, Any], value: float) -> str | None:
    if "minimum" in schema and value < schema["minimum"]:
        return f"Input should be greater than or equal to {schema['minimum']:g}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"Input should be less than or equal to {schema['maximum']:g}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return f"Input should be greater than {schema['exclusiveMinimum']:g}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return f"Input should be less than {schema['exclusiveMaximum']:g}"
    return None


def _array_error(schema: dict[str, Any], value: list[Any]) -> str | None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        return f"List should have at least {schema['minItems']} items"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"List should have at most {schema['maxItems']} items"
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            reason = first_error(items, item)
            if reason:
                return f"[{index}]: {reason}"
    return None


def _object_error(schema: dict[str, Any], value: dict[str, Any]) -> str | None:
    for name in schema.get("required", ()):
        if name not in value:
            return f"{name}: Field required"
    props: dict[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, item in value.items():
        if names is not None and first_error(names, key):
            return f"{key}: property name not allowed"
        sub = props.get(key)
        if sub is None:
            if extra is False:
                return f"{key}: Extra inputs are not permitted"
            sub = extra if isinstance(extra, dict) else None
        if sub is not None:
            reason = first_error(sub, item)
            if reason:
                return f"{key}: {reason}"
    return None


def is_valid(schema: Any, value: Any) -> bool:
    return first_error(schema, value) is None
