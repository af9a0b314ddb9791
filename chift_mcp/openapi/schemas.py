"""JSON-schema compaction: from the spec's resolved schemas to small, portable tool schemas.

What goes: titles, examples, vendor extensions (``x-*``), ``null`` alternatives, ``$ref``/``$defs``
(resolved before we get here), ``additionalProperties: false/true``, descriptions that only
repeat the property's name and those of arguments the server instructions explain once
(``SAID_ONCE``: currency, country, language, updated_after, location_id, an individual's names,
include_invoice_lines, include_payments, include_partner_info). What stays: types, enums, formats, bounds, required, nested
structure, and descriptions that carry meaning (trimmed to their first sentence).

The result is also the schema arguments are validated against, so what an agent reads is what we
enforce. ``portable_problems()`` lists what would stop a schema travelling to every MCP client.
"""

from __future__ import annotations

__all__ = ["SAID_ONCE", "compact", "portable_problems", "shorten"]

import re
from typing import Any

_KEEP = frozenset(
    {
        "type",
        "format",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
    }
)
# Formats worth their tokens: they tell a model how to write a value.
_USEFUL_FORMATS = frozenset({"date", "date-time", "email", "uri", "time", "byte", "binary"})
_FORBIDDEN = ("$ref", "$defs", "definitions", "$schema", "allOf", "oneOf", "not", "if", "then", "else")
# Words that add nothing to a property's name: a description made only of these and the name's own
# words ("Total amount of the invoice" for ``total``) is dropped.
_STOPWORDS = frozenset(
    """
    a an the of for to in on by is are be this that its it with and or as at from which id
    ids identifier unique technical number value name field used associated related given
    system software accounting invoice entry line item object list specific record instance
    amount total code type date flag whether if
    """.split()
)
# Arguments that many tools share, explained once in the server instructions (server.SHARED_ARGUMENTS)
# instead of on every tool: a description saying only that is dropped wherever the property appears.
_INDIVIDUAL = re.compile(r"Only used when the \w+ is an individual \(is_company=false\)")
SAID_ONCE: dict[str, re.Pattern[str]] = {
    "currency": re.compile(
        r"(?:Currency of the [\w ]+|Code) \(e\.g\.?,? [A-Z]{3}(?:, [A-Z]{3})*\)(?: of the currency used for [\w ]+)?"
    ),
    "country": re.compile(r"(?:Country, )?[Ff]ormat: ISO 3166-1 codes"),
    "language": re.compile(r"[Ff]ormat: ISO 639-1 codes"),
    "updated_after": re.compile(
        r"Retrieve \w+ (?:created or )?updated after a specific datetime.*"
        r"|When provided only [\w ]+ modified or created after this datetime will be retrieved"
        r"|Filter \w+ last updated at or after this date.*"
    ),
    "location_id": re.compile(
        r"(?:Unique identifier of the location )?If none passed, .* from all locations .*"
    ),
    **dict.fromkeys(("first_name", "last_name", "function", "company_id"), _INDIVIDUAL),
    "include_invoice_lines": re.compile(
        r"By default,? invoice lines are (?:not )?included when "
        r"(?:this requires extra requests on the target API|no extra request is needed to fetch them)"
    ),
    "include_payments": re.compile(r"By default payments are not included and the field payments is null"),
    "include_partner_info": re.compile(
        r"Partner \(client/supplier\) information should be included in the response"
    ),
}
_SENTENCE_END = re.compile(r"(?<![eE]\.g)(?<![iI]\.e)(?<=[a-zA-Z0-9)\]`'\"])\.(?:\s|$|(?=[A-Z][a-z]))")


def compact(
    schema: Any,
    *,
    name: str = "",
    depth: int = 0,
    limits: tuple[int, ...] = (110, 90),
    bare: bool = False,
) -> dict[str, Any]:
    """Return a compact copy of a resolved schema (never mutates its input).

    ``depth`` is the nesting level (0 for a tool argument, 1 for a field of a request body).
    Descriptions get ``limits[depth]`` characters (the last limit below that); an optional property
    nested in an argument (depth 2 and deeper, ``bare``) keeps its description only when it says
    when the property is needed, what happens without it or gives an example; else its name and type
    speak for it.
    """
    if not isinstance(schema, dict):
        return {}
    limit = limits[min(depth, len(limits) - 1)]
    schema = _collapse(schema)
    out: dict[str, Any] = {}
    for key in ("type", *sorted(_KEEP - {"type"})):
        if key in schema:
            out[key] = schema[key]
    if "const" in schema and "enum" not in out:
        out["enum"] = [schema["const"]]
    if out.get("format") not in _USEFUL_FORMATS:
        out.pop("format", None)
    if out.get("minLength") == 1:
        del out["minLength"]  # "not empty": Chift says so itself if it matters; not worth its tokens
    if "enum" in out:
        out["enum"] = [v for v in out["enum"] if v is not None]
        if not out["enum"]:
            del out["enum"]
    if out.get("enum") in (["true", "false"], ["false", "true"]):
        out = {"type": "boolean"}  # a string boolean; the registry writes it back as "true"/"false"
    text = essentials(_clean(schema.get("description", ""), out), limit)
    if bare and not _CONDITION.search(text):
        text = ""
    if text and not _repeats_name(text, name) and not _said_once(name, text):
        out["description"] = text
    below = depth + 1
    if "anyOf" in schema:
        out["anyOf"] = [compact(m, depth=below, limits=limits) for m in schema["anyOf"]]
    properties = schema.get("properties")
    if isinstance(properties, dict):
        needed = [r for r in schema.get("required", []) if r in properties]
        out["type"] = "object"
        out["properties"] = {
            key: compact(value, name=key, depth=below, limits=limits, bare=below >= 2 and key not in needed)
            for key, value in properties.items()
        }
        if needed:
            out["required"] = needed
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out["type"] = "object"
        out["additionalProperties"] = compact(extra, depth=below, limits=limits)
    if "items" in schema:
        out["items"] = compact(schema["items"], depth=depth, limits=limits)
        out["type"] = "array"
    if "type" not in out and "anyOf" not in out:
        out["type"] = _infer_type(schema)
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out.pop("required", None)
    return out


def _collapse(schema: dict[str, Any]) -> dict[str, Any]:
    """Fold ``anyOf``/``oneOf``/``allOf`` and type lists into a simpler equivalent where possible."""
    schema = dict(schema)
    for key in ("oneOf", "anyOf"):
        if key not in schema:
            continue
        members = [m for m in schema.pop(key) if not _is_null(m)]
        if len(members) == 1:
            inner = _collapse(members[0])
            outer_text = schema.get("description")
            return {**inner, "description": outer_text} if outer_text else inner
        if members:
            schema["anyOf"] = members
    if "allOf" in schema:
        merged: dict[str, Any] = {}  # allOf members folded into one object
        for member in schema.pop("allOf"):
            member = _collapse(member)
            props = {**merged.get("properties", {}), **member.get("properties", {})}
            required = [*merged.get("required", []), *member.get("required", [])]
            merged.update(member)
            if props:
                merged["properties"] = props
            if required:
                merged["required"] = sorted(set(required))
        schema = {**merged, **schema}
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) == 1:
            schema["type"] = kinds[0]
        else:
            del schema["type"]
            schema["anyOf"] = [{"type": k} for k in kinds]
    return schema


def _is_null(member: Any) -> bool:
    return isinstance(member, dict) and member.get("type") == "null" and len(member) <= 2


def _infer_type(schema: dict[str, Any]) -> str:
    enum = schema.get("enum") or ([schema["const"]] if "const" in schema else [])
    if enum:
        sample = enum[0]
        if isinstance(sample, bool):
            return "boolean"
        if isinstance(sample, int):
            return "integer"
        if isinstance(sample, float):
            return "number"
        return "string"
    # An unconstrained value in Chift's spec is a free-form JSON object (metadata, raw payloads).
    return "object"


# A description earns its tokens when it gives an example, a format, a unit, a condition or a limit.
_INFORMATIVE = re.compile(
    r"e\.g|i\.e|\bISO\b|format|YYYY|mmYYYY|\bonly\b|\bmust\b|\bunless\b|\bif not\b|\bdefault|"
    r"\bmax|\bmin|comma|separated|one of|`",
    re.I,
)
# What an optional nested property keeps its description for: when it is needed, what happens without it,
# an example of its value.
_CONDITION = re.compile(r"\brequired\b|\bmust\b|\bif\b|\bunless\b|\bdefault|automatically|e\.g\.|``", re.I)
_FORMAT_NOTE = re.compile(r"\s*\(?(format:?\s*)?(YYYY-MM-DD|ISO 8601[^).]*)\)?", re.I)
_FILLER = re.compile(
    r"^(indicates?|specifies|represents|contains|defines)( whether| if)? (the )?|^(boolean )?flag indicating (whether|if) ",
    re.I,
)


def _clean(text: str, schema: dict[str, Any]) -> str:
    """Drop what the schema already says (date formats) and filler openings."""
    text = " ".join((text or "").split())
    if schema.get("format") in ("date", "date-time"):
        text = _FORMAT_NOTE.sub("", text)
    text = _FILLER.sub("", text)
    return text[:1].upper() + text[1:] if text else text


def essentials(text: str, limit: int) -> str:
    """The sentences of a property description that say something its name and type do not.

    A sentence is kept when it gives an example, a format, a unit, a condition or a limit
    ("Format: YYYYMM (e.g., 202502)"); "Filter invoices by approval status" adds nothing to
    ``approval_status`` and its enum, so it goes. Whole sentences, in order, within ``limit``.
    """
    kept: list[str] = []
    size = 0
    for sentence in _sentences(text):
        if not _INFORMATIVE.search(sentence):
            continue
        if size + len(sentence) > limit:
            if not kept:
                kept.append(shorten(sentence, limit))
            break
        kept.append(sentence)
        size += len(sentence) + 2
    return ". ".join(kept)


def _sentences(text: str) -> list[str]:
    text = " ".join((text or "").split())
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start : match.start()].strip())
        start = match.end()
    parts.append(text[start:].strip().rstrip("."))
    return [p for p in parts if p]


def shorten(text: str, limit: int = 160) -> str:
    """The first sentence of ``text`` (at most ``limit`` characters, cut at a word)."""
    text = " ".join((text or "").split())
    if not text:
        return ""
    match = _SENTENCE_END.search(text)
    if match and match.start() + 1 <= limit:
        text = text[: match.start()]
    if len(text) > limit:
        cut = text[:limit]
        # Prefer ending at a clause boundary; else at a word, marked with an ellipsis.
        clause = max(cut.rfind(", "), cut.rfind("; "), cut.rfind(" ("))
        text = cut[:clause] if clause >= limit // 2 else cut.rsplit(" ", 1)[0].rstrip(",;:(") + "…"
    return text.rstrip(".")


def _said_once(name: str, text: str) -> bool:
    pattern = SAID_ONCE.get(name)
    return pattern is not None and pattern.fullmatch(text) is not None


def _repeats_name(text: str, name: str) -> bool:
    words = {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in _STOPWORDS}
    names = {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in _STOPWORDS}
    return bool(names) and words <= names


def portable_problems(schema: Any, path: str = "$") -> list[str]:
    """What in ``schema`` falls outside the subset every MCP client accepts (empty when portable)."""
    problems: list[str] = []
    if not isinstance(schema, dict):
        return [f"{path}: not an object"]
    for key in _FORBIDDEN:
        if key in schema:
            problems.append(f"{path}: uses {key}")
    if isinstance(schema.get("type"), list):
        problems.append(f"{path}: type array")
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], dict):
        problems.append(f"{path}: additionalProperties {schema['additionalProperties']!r}")
    if "type" not in schema and "anyOf" not in schema:
        problems.append(f"{path}: untyped")
    for key, value in schema.get("properties", {}).items():
        problems += portable_problems(value, f"{path}.{key}")
    for index, value in enumerate(schema.get("anyOf", [])):
        problems += portable_problems(value, f"{path}|{index}")
    if isinstance(schema.get("items"), dict):
        problems += portable_problems(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += portable_problems(schema["additionalProperties"], f"{path}{{}}")
    return problems
