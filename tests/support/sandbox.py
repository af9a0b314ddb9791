"""Helpers shared by the sandbox tests (an independent reading of the spec and strict format checks)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from chift_mcp.openapi.spec import Spec, load_spec
from chift_mcp.sandbox import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

CREDENTIALS = {
    "clientId": SANDBOX_CLIENT_ID,
    "clientSecret": SANDBOX_CLIENT_SECRET,
    "accountId": SANDBOX_ACCOUNT_ID,
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")

STRICT_FORMATS = FormatChecker(formats=())


@cache
def shared_spec() -> Spec:
    """The bundled spec, loaded once per test session (also at collection time for parametrization)."""
    return load_spec()


@STRICT_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@STRICT_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    date.fromisoformat(value)
    return True


@STRICT_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATETIME.match(value):
        return False
    datetime.fromisoformat(value)
    return True


def schema_errors(schema: Any, instance: Any, limit: int = 5) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=STRICT_FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in list(validator.iter_errors(instance))[:limit]
    ]


def operations(spec: Spec) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec.paths.items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def success(spec: Spec, operation: dict[str, Any]) -> tuple[int, Any]:
    """The documented success status and its JSON schema (None when there is no body)."""
    for code, response in sorted(operation["responses"].items()):
        if code.startswith("2"):
            content = (spec.resolve(response).get("content") or {}).get("application/json")
            return int(code), (content or {}).get("schema") if content is not None else None
    raise AssertionError("no success response")


def params(spec: Spec, operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec.resolve(p) for p in operation.get("parameters", [])]


def body_schema(spec: Spec, operation: dict[str, Any]) -> Any:
    body = spec.resolve(operation.get("requestBody") or {})
    content = (body.get("content") or {}).get("application/json")
    return content.get("schema") if content else None


def param_value(schema: dict[str, Any]) -> str:
    """A valid string for a parameter schema, derived independently of the sandbox's generator."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    branch = branches[0]
    if "const" in branch:
        return str(branch["const"])
    if "enum" in branch:
        return str(branch["enum"][0])
    kind, fmt = branch.get("type"), branch.get("format")
    if kind == "integer":
        return str(max(int(branch.get("minimum", 1)), 1))
    if kind == "number":
        return "1.5"
    if kind == "boolean":
        return "true"
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date":
        return "2025-01-31"
    if fmt == "date-time":
        return "2025-01-31T10:00:00Z"
    return "abc"
