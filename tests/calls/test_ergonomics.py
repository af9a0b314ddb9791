"""Toolsets, field selection, portable schemas across validators, prompts."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from chift_mcp.app import Runtime, build_inventory
from chift_mcp.calls.registry import Registry
from chift_mcp.calls.shaping import select
from chift_mcp.errors import ConfigError
from chift_mcp.modes.prompts import PROMPTS, render
from chift_mcp.openapi.schemas import portable_problems
from chift_mcp.settings import Settings
from chift_mcp.tools.access import Access, parse_function_config
from chift_mcp.tools.definition import ToolSpec

DEMO = "11111111-1111-4111-8111-111111111111"


def test_tools_allow_list_and_exclusions_narrow_the_list(tools: list[ToolSpec]) -> None:
    registry = Registry(build_inventory(Settings(), tools)[0], None)
    only = Access.of(parse_function_config(None), include=["accounting_get_clients", "pos_get_orders"])
    assert [t.name for t in registry.view(only).tools] == ["accounting_get_clients", "pos_get_orders"]
    without = Access.of(parse_function_config(None), exclude=["accounting_get_clients"])
    names = [t.name for t in registry.view(without).tools]
    assert "accounting_get_clients" not in names and "accounting_get_client" in names
    assert "CHIFT_EXCLUDE_TOOLS" in (
        without.refusal(next(t for t in tools if t.name == "accounting_get_clients")) or ""
    )


def test_unknown_tool_names_in_the_lists_stop_start_up(tools: list[ToolSpec]) -> None:
    with pytest.raises(
        ConfigError,
        match="CHIFT_TOOLS: no tool named 'accounting_get_clientz' \\(did you mean accounting_get_client",
    ):
        build_inventory(Settings(tools="accounting_get_clientz"), tools)
    with pytest.raises(ConfigError, match="CHIFT_EXCLUDE_TOOLS"):
        build_inventory(Settings(exclude_tools="nope_nope"), tools)


def test_tools_command_shows_count_and_tokens() -> None:
    env = {"CHIFT_TOOLS": "accounting_get_clients,pos_get_orders", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "chift_mcp", "tools"], capture_output=True, text=True, env=env, check=True
    )
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        "accounting_get_clients",
        "pos_get_orders",
    ]
    assert "2 tools; tools/list is" in out.stderr and "cl100k tokens" in out.stderr


def test_select_keeps_dotted_fields_through_lists_and_reports_unknown_ones() -> None:
    page = {
        "items": [
            {"id": 1, "name": "a", "partner": {"name": "p", "vat": "BE1"}, "lines": [{"amount": 1, "x": 2}]}
        ],
        "total": 1,
    }
    out = select(page, ["id", "partner.name", "lines.amount", "nope"], page=True)
    assert out["items"] == [{"id": 1, "partner": {"name": "p"}, "lines": [{"amount": 1}]}]
    assert out["total"] == 1 and out["fields_not_found"] == ["nope"] and "name" in out["fields_available"]
    assert select({"id": 1, "name": "a"}, ["name"]) == {"name": "a"}
    # An order's own "items" (its lines) are not a page: fields apply to the order.
    order = {"id": 7, "total": 10, "items": [{"name": "x"}]}
    assert select(order, ["id", "total"]) == {"id": 7, "total": 10}


@pytest.mark.anyio
async def test_fields_narrow_real_answers_from_the_sandbox() -> None:
    runtime = Runtime.open(Settings(), sandbox=True)
    scope = await runtime.access.current()
    result = await runtime.registry.call(
        "accounting_get_clients", {"consumer_id": DEMO, "limit": 3, "fields": ["id", "name"]}, scope
    )
    data = json.loads(result.text)
    assert not result.is_error and len(data["items"]) == 3 and data["next_offset"] == 3
    assert all(set(i) == {"id", "name"} for i in data["items"])  # the fields asked for, and only them
    await runtime.aclose()


def _all_published(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    registry = Registry(build_inventory(Settings(), tools)[0], None)
    every = parse_function_config(
        json.dumps({d: ["get", "create", "update", "delete"] for d in {t.domain for t in tools}})
    )
    schemas = [t.input_schema for t in registry.view(Access.of(every)).tools]
    schemas += [t.input_schema for t in registry.view(Access.of(every, consumer_id=DEMO)).tools]
    schemas += [t.input_schema for t in registry.view(Access.of(every, mode="discovery")).tools]
    return schemas


def test_every_published_schema_is_in_the_portable_subset_and_valid_for_each_draft(
    tools: list[ToolSpec],
) -> None:
    schemas = _all_published(tools)
    assert len(schemas) > 400
    for schema in schemas:
        assert schema["type"] == "object" and portable_problems(schema) == []
        Draft7Validator.check_schema(schema)
        Draft202012Validator.check_schema(schema)


def test_every_published_schema_goes_through_pydantic_ai_s_provider_transformers(
    tools: list[ToolSpec],
) -> None:
    """The transformers Pydantic AI runs before sending tools to Gemini and OpenAI (strict or not)
    accept every schema, and Gemini's needs no $ref inlining and finds nothing it must drop."""
    pytest.importorskip("pydantic_ai", reason="pydantic-ai is not installed in this environment")
    from pydantic_ai.profiles.google import GoogleJsonSchemaTransformer
    from pydantic_ai.profiles.openai import OpenAIJsonSchemaTransformer

    for schema in _all_published(tools):
        google = GoogleJsonSchemaTransformer(schema).walk()
        assert "$ref" not in json.dumps(google) and "$defs" not in google
        OpenAIJsonSchemaTransformer(schema, strict=False).walk()
        OpenAIJsonSchemaTransformer(schema, strict=True).walk()


@pytest.mark.parametrize("prompt", [p.name for p in PROMPTS])
def test_prompts_name_only_operations_that_exist(prompt: str, tools: list[ToolSpec]) -> None:
    import re

    names = {t.name for t in tools} | {"describe_operation", "call_operation", "find_operations"}
    for scope in (
        Access.of(parse_function_config(None)),
        Access.of(parse_function_config(None), consumer_id=DEMO, mode="discovery"),
    ):
        text = render(prompt, {"month": "2026-10", "date_from": "2026-10-01"}, scope)
        mentioned = set(
            re.findall(
                r"\b[a-z]+_(?:get|create|update|post|match|add|delete)_[a-z_]+\b|\b[a-z]+_operations?\b", text
            )
        )
        assert mentioned and mentioned <= names, mentioned - names
        if scope.mode == "discovery":
            assert "call_operation" in text
        else:  # the direct tools by their own names
            assert "call_operation" not in text and "find_operations" not in text
        if scope.consumer_id:
            assert f"bound to consumer {DEMO}" in text
        else:
            assert "bound to consumer" not in text


def test_only_the_subcommand_position_means_index() -> None:
    from chift_mcp.cli import _parse

    called = _parse(["call", "index", "--args", "{}"])
    assert called.command == "call" and called.name == "index"
    delegated = _parse(["--sandbox", "--env-file", "x.env", "index", "query", "-h", "--k", "3"])
    assert delegated.command == "index" and delegated.index_args == ["query", "-h", "--k", "3"]
    assert _parse(["--env-file", "index"]).command is None  # "index" is the env file's name here
