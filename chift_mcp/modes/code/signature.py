"""An operation as code mode's ``describe_operation`` shows it: a Python call signature.

``signature(tool)`` renders the tool's input schema (the one the registry validates calls against)
as a keyword-only Python signature, required arguments first, one per line, with the sentence that
carries a format or an example as a comment. Types read as Python: ``str``, ``int``, ``float``,
``bool``, ``list[...]``, ``Literal[...]`` for enums; ``date`` and ``datetime`` are ISO strings; a
nested object is ``{key: type, key?: type}`` (``?``: optional). Nothing here imports pydantic-monty.
"""

from __future__ import annotations

from typing import Any

from chift_mcp.openapi.schemas import shorten
from chift_mcp.tools.definition import ToolSpec

DEFAULT_LIMIT = 50  # the registry's page when a list call gives no limit
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
_FORMATS = {"date": "date", "date-time": "datetime"}
_SHARED = {  # arguments explained once, in the server instructions
    "fields": "keys to keep in each object, dotted for nested ones",
    "offset": "",
    "folder_id": "only when the connection has several folders",
}
TYPES_NOTE = (
    "date/datetime are ISO strings ('2024-01-31', '2024-01-31T12:00:00Z'); {key: type} is a dict, "
    "key? optional; omit optional arguments rather than passing None."
)


def signature(tool: ToolSpec) -> str:
    """``name(*, arg: type, ...) -> returns`` for ``tool``, one argument per line."""
    schema = tool.input_schema
    props: dict[str, Any] = schema.get("properties", {})
    required = [n for n in schema.get("required", []) if n in props]
    optional = [n for n in props if n not in required]
    lines = []
    for name in [*required, *optional]:
        prop = props[name]
        text = f"{name}: {py_type(prop)}"
        if name not in required:
            text += f" = {_default(name, prop)}"
        comment = _comment(name, prop)
        lines.append(f"    {text},{'  # ' + comment if comment else ''}")
    returns = tool.operation.returns if tool.operation is not None else "dict"
    if not lines:
        return f"{tool.name}() -> {returns}"
    return f"{tool.name}(\n    *,\n" + "\n".join(lines) + f"\n) -> {returns}"


def py_type(schema: Any, depth: int = 0) -> str:
    """A JSON schema as a compact Python-like type."""
    if not isinstance(schema, dict) or not schema:
        return "Any"
    if "enum" in schema:
        return "Literal[" + ", ".join(_literal(v) for v in schema["enum"]) + "]"
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list):
        return " | ".join(dict.fromkeys(py_type(b, depth) for b in branches))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(py_type({**schema, "type": k}, depth) for k in kind)
    if kind == "string":
        return _FORMATS.get(str(schema.get("format")), "str")
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return f"list[{py_type(schema.get('items'), depth)}]"
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not props:
            extra = schema.get("additionalProperties")
            return f"dict[str, {py_type(extra, depth)}]" if isinstance(extra, dict) and extra else "dict"
        if depth >= 4:
            return "dict"
        required = set(schema.get("required", ()))
        keys = sorted(props, key=lambda k: k not in required)
        inner = ", ".join(f"{k}{'' if k in required else '?'}: {py_type(props[k], depth + 1)}" for k in keys)
        return "{" + inner + "}"
    return "Any"


def _default(name: str, prop: dict[str, Any]) -> str:
    if name == "limit":
        return str(DEFAULT_LIMIT)
    if name == "offset":
        return "0"
    return "None"


def _comment(name: str, prop: dict[str, Any]) -> str:
    parts = []
    if name in _SHARED:
        parts.append(_SHARED[name])
    elif prop.get("description"):
        parts.append(shorten(str(prop["description"]), 100))
    bounds = [
        f"{label} {prop[key]}" for key, label in (("minimum", "min"), ("maximum", "max")) if key in prop
    ]
    if "maxLength" in prop:
        bounds.append(f"at most {prop['maxLength']} characters")
    return "; ".join(p for p in [*parts, ", ".join(bounds)] if p)


def _literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
