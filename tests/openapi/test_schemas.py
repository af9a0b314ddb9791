"""Schema compaction keeps meaning, drops noise, and yields the portable subset."""

from __future__ import annotations

from chift_mcp.openapi.schemas import compact, portable_problems, shorten


def test_nullable_any_of_collapses_and_titles_go() -> None:
    schema = {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
        "title": "Date From",
        "description": "Start date (format: YYYY-MM-DD).",
    }
    # The format note is what the schema's format already says, and "Start date" what the name says.
    assert compact(schema, name="date_from") == {"type": "string", "format": "date"}


def test_descriptions_keep_the_sentences_that_carry_formats_and_examples() -> None:
    schema = {
        "type": "string",
        "description": "End month (inclusive). Format: YYYYMM (e.g., 202512 for December 2025).",
    }
    assert compact(schema, name="end")["description"] == "Format: YYYYMM (e.g., 202512 for December 2025)"
    plain = {"type": "string", "enum": ["a", "b"], "description": "Filter invoices by approval status."}
    assert "description" not in compact(plain, name="approval_status")


def test_enums_bounds_required_and_nested_structure_stay() -> None:
    schema = {
        "type": "object",
        "title": "X",
        "properties": {
            "kind": {"type": "string", "enum": ["a", "b"], "x-chift-support": {}},
            "n": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
            "lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"q": {"type": "number"}}, "required": ["q"]},
            },
        },
        "required": ["kind", "missing"],
        "additionalProperties": False,
    }
    out = compact(schema)
    assert out["required"] == ["kind"]
    assert out["properties"]["kind"] == {"type": "string", "enum": ["a", "b"]}
    assert out["properties"]["n"] == {"type": "integer", "maximum": 100, "minimum": 1}
    assert out["properties"]["lines"]["items"]["required"] == ["q"]
    assert "additionalProperties" not in out
    assert portable_problems(out) == []


def test_string_booleans_become_booleans_and_untyped_values_get_a_type() -> None:
    assert compact({"type": "string", "enum": ["true", "false"]})["type"] == "boolean"
    assert compact({}) == {"type": "object"}
    assert compact({"enum": [1, 2]})["type"] == "integer"


def test_descriptions_that_repeat_the_name_are_dropped_and_meaningful_ones_kept() -> None:
    assert "description" not in compact({"type": "string", "description": "The email."}, name="email")
    kept = compact({"type": "string", "description": "Month in mmYYYY format."}, name="start")
    assert kept["description"] == "Month in mmYYYY format"


def test_shorten_keeps_the_first_sentence_and_respects_abbreviations() -> None:
    assert shorten("Code (e.g. EUR). More text.") == "Code (e.g. EUR)"
    long = shorten("word " * 50, 40)
    assert len(long) <= 40 and long.endswith("…")


def test_portable_problems_flags_what_clients_reject() -> None:
    bad = {"type": ["string", "null"], "properties": {"a": {"$ref": "#/x"}, "b": {"allOf": []}}}
    problems = portable_problems(bad)
    assert any("type array" in p for p in problems)
    assert any("$ref" in p for p in problems)
    assert any("allOf" in p for p in problems)
