"""Validate a request's path, query and JSON body against its ``chift_mcp.openapi.operations.Operation``.

Parameters arrive as strings and are coerced the way FastAPI (which serves the real Chift API) does:
integers, numbers, booleans, then checked with ``schema_check``. Bodies are validated with
``jsonschema`` (Draft 2020-12, the dialect of OpenAPI 3.1). Errors follow Chift's 422 answer:
``detail`` is a list of ``{loc, msg, type}`` like pydantic's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from chift_mcp.openapi.operations import Operation, Param
from chift_mcp.sandbox.schema_check import check_format, first_error

FORMATS = FormatChecker(formats=())
for _fmt in ("uuid", "date", "date-time"):
    FORMATS.checks(_fmt)(
        lambda value, _f=_fmt: not isinstance(value, str) or check_format(_f, value, lenient=True)
    )

_INT = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})

INVALID_PATH = "ERROR_INVALID_PATH_PARAMETER"
INVALID_QUERY = "ERROR_INVALID_QUERY_PARAMETER"
INVALID_BODY = "ERROR_INVALID_BODY"


@dataclass(slots=True)
class Validated:
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any = None


@dataclass(slots=True)
class Invalid:
    error_code: str
    message: str
    detail: list[dict[str, Any]] = field(default_factory=list)


def coerce(raw: str, schema: dict[str, Any]) -> tuple[bool, Any, str]:
    """Read a parameter string as ``schema`` wants: (ok, value, error message)."""
    branches = schema.get("anyOf") or [schema]
    first_reason = ""
    for branch in branches:
        kind = branch.get("type")
        if kind == "null":
            continue
        value: Any = raw
        if kind == "integer":
            if not _INT.fullmatch(raw.strip()):
                first_reason = (
                    first_reason or "Input should be a valid integer, unable to parse string as an integer"
                )
                continue
            value = int(raw)
        elif kind == "number":
            try:
                value = float(raw)
            except ValueError:
                first_reason = (
                    first_reason or "Input should be a valid number, unable to parse string as a number"
                )
                continue
        elif kind == "boolean":
            lowered = raw.strip().lower()
            if lowered not in _TRUE and lowered not in _FALSE:
                first_reason = first_reason or "Input should be a valid boolean, unable to interpret input"
                continue
            value = lowered in _TRUE
        if branch.get("format") == "date-time" and check_format("date-time", raw, lenient=True):
            return True, value, ""
        reason = first_error(branch, value)
        if reason is None:
            return True, value, ""
        first_reason = first_reason or reason
    return False, None, first_reason or "Invalid value"


class RequestValidator:
    """Compiled once per operation (lazily, on its first request)."""

    def __init__(self, operation: Operation) -> None:
        self.params: tuple[Param, ...] = operation.params
        self.body_schema: dict[str, Any] | None = operation.body
        self.body_required = operation.body_required
        self._body_validator = (
            Draft202012Validator(self.body_schema, format_checker=FORMATS)
            if self.body_schema is not None
            else None
        )

    def validate(
        self, path: Mapping[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Validated | Invalid:
        out = Validated(path={}, query={})
        errors: dict[str, list[dict[str, Any]]] = {"path": [], "query": [], "body": []}
        for param in self.params:
            source = path if param.location == "path" else query if param.location == "query" else headers
            raw = source.get(param.name) if param.location != "header" else source.get(param.name.lower())
            if raw is None:
                if param.required:
                    errors["path" if param.location == "path" else "query"].append(
                        {"loc": [param.location, param.name], "msg": "Field required", "type": "missing"}
                    )
                elif param.location == "query":
                    out.query[param.name] = param.schema.get("default")
                continue
            ok, value, reason = coerce(raw, param.schema)
            if not ok:
                errors["path" if param.location == "path" else "query"].append(
                    {"loc": [param.location, param.name], "msg": reason, "type": "value_error", "input": raw}
                )
                continue
            if param.location == "path":
                out.path[param.name] = value
            elif param.location == "query":
                out.query[param.name] = value
        if self._body_validator is not None:
            self._check_body(body, out, errors["body"])
        for location, code in (("path", INVALID_PATH), ("query", INVALID_QUERY), ("body", INVALID_BODY)):
            if errors[location]:
                detail = errors["path"] + errors["query"] + errors["body"]
                first = errors[location][0]
                where = ".".join(str(part) for part in first["loc"][1:]) or location
                return Invalid(code, f"Invalid {location}: {where}: {first['msg']}", detail)
        return out

    def _check_body(self, body: bytes, out: Validated, errors: list[dict[str, Any]]) -> None:
        assert self._body_validator is not None
        if not body.strip():
            if self.body_required:
                errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            return
        try:
            document = json.loads(body)
        except ValueError as exc:
            errors.append(
                {"loc": ["body", getattr(exc, "pos", 0)], "msg": "JSON decode error", "type": "json_invalid"}
            )
            return
        found = sorted(
            self._body_validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
        )
        required_seen: set[tuple[Any, ...]] = set()
        for error in found:
            for leaf in _leaves(error):
                if leaf.validator != "required":
                    errors.append(_detail(leaf))
                    continue
                # jsonschema reports each missing name as its own error, with the same ``required``
                # list and instance: report that object's missing names once, in the list's order.
                key = (tuple(leaf.absolute_path), tuple(leaf.absolute_schema_path))
                if key not in required_seen:
                    required_seen.add(key)
                    errors.extend(_missing(leaf))
        out.body = document


def _leaves(error: ValidationError) -> list[ValidationError]:
    """Replace an ``anyOf`` failure by the errors of the branch the input was meant for."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches = error.validator_value
    non_null = [i for i, b in enumerate(branches) if not (isinstance(b, dict) and b.get("type") == "null")]
    matching = [
        i
        for i in non_null
        if not any(
            e.validator == "type" and not e.relative_path for e in error.context if e.schema_path[0] == i
        )
    ]
    index = matching[0] if len(matching) == 1 else non_null[0] if len(non_null) == 1 else None
    if index is not None:
        chosen = [e for e in error.context if e.schema_path[0] == index]
        if chosen:
            return [leaf for sub in chosen for leaf in _leaves(sub)]
    return [error]


def _missing(error: ValidationError) -> list[dict[str, Any]]:
    """One ``missing`` detail per name of a ``required`` list the instance lacks."""
    present = error.instance if isinstance(error.instance, dict) else {}
    where = ["body", *error.absolute_path]
    return [
        {"loc": [*where, name], "msg": "Field required", "type": "missing"}
        for name in error.validator_value
        if name not in present
    ]


def _detail(error: ValidationError) -> dict[str, Any]:
    loc: list[Any] = ["body", *error.absolute_path]
    kind = str(error.validator)
    value = error.validator_value
    messages: dict[str, tuple[str, str]] = {
        "type": (f"Input should be a valid {value}", f"{value}_type"),
        "enum": (
            "Input should be " + " or ".join(repr(v) for v in value) if isinstance(value, list) else "",
            "enum",
        ),
        "const": (f"Input should be {value!r}", "literal_error"),
        "minimum": (f"Input should be greater than or equal to {value}", "greater_than_equal"),
        "maximum": (f"Input should be less than or equal to {value}", "less_than_equal"),
        "exclusiveMinimum": (f"Input should be greater than {value}", "greater_than"),
        "exclusiveMaximum": (f"Input should be less than {value}", "less_than"),
        "minLength": (f"String should have at least {value} characters", "string_too_short"),
        "maxLength": (f"String should have at most {value} characters", "string_too_long"),
        "pattern": (f"String should match pattern '{value}'", "string_pattern_mismatch"),
        "format": (f"Input should be a valid {value}", f"{str(value).replace('-', '')}_parsing"),
        "minItems": (f"List should have at least {value} items", "too_short"),
        "maxItems": (f"List should have at most {value} items", "too_long"),
        "additionalProperties": ("Extra inputs are not permitted", "extra_forbidden"),
        "anyOf": ("Input does not match any of the allowed schemas", "union_error"),
        "oneOf": ("Input does not match exactly one of the allowed schemas", "union_error"),
    }
    msg, type_ = messages.get(kind, (error.message, kind))
    detail: dict[str, Any] = {"loc": loc, "msg": msg or error.message, "type": type_}
    if not isinstance(error.instance, dict | list):
        detail["input"] = error.instance
    return detail
