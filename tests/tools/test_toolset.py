"""Registry-wide invariants of the generated tools, naming, function config and scope filters."""

from __future__ import annotations

import json
import re

import pytest

from chift_mcp.errors import ConfigError
from chift_mcp.openapi.operations import DOMAINS, KINDS, UNIFIED_DOMAINS, Operation
from chift_mcp.openapi.schemas import portable_problems
from chift_mcp.tools.access import Access, parse_function_config
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.factory import tool_name

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,54}$")


def test_one_tool_per_operation_and_never_token_endpoints(
    operations: list[Operation], tools: list[ToolSpec]
) -> None:
    assert len(tools) == len(operations)
    paths = {t.operation.path for t in tools}
    assert "/token" not in paths and "/mcp-token" not in paths
    consumer = [t for t in tools if t.operation.consumer_scoped]
    assert len(consumer) == 190  # every operation under /consumers/{consumer_id} of today's spec


def test_names_are_unique_portable_and_keep_operation_ids(tools: list[ToolSpec]) -> None:
    names = [t.name for t in tools]
    assert len(names) == len(set(names))
    for tool in tools:
        assert NAME.match(tool.name), tool.name
        if NAME.match(tool.operation.id):
            assert tool.name == tool.operation.id  # drop-in: the official server's tool names


def test_long_operation_ids_get_readable_unique_names(operations: list[Operation]) -> None:
    long = next(op for op in operations if len(op.id) > 54)
    name = tool_name(long, set())
    assert NAME.match(name) and name.startswith(f"{long.domain}_{long.kind}_")
    assert tool_name(long, {name}) != name


def test_every_tool_has_description_title_and_explicit_annotations(tools: list[ToolSpec]) -> None:
    for tool in tools:
        assert tool.description and tool.description.endswith("."), tool.name
        assert 10 <= len(tool.description) <= 330, (tool.name, tool.description)
        assert tool.title
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert isinstance(tool.annotations[hint], bool), (tool.name, hint)
        assert tool.annotations["readOnlyHint"] == (tool.kind == "get")
        assert tool.annotations["destructiveHint"] == (tool.kind in ("update", "delete"))


def test_schemas_are_self_contained_and_portable(tools: list[ToolSpec]) -> None:
    for tool in tools:
        schema = tool.input_schema
        assert schema["type"] == "object"
        keywords = _keywords(schema)
        for banned in ("$ref", "$defs", "$schema", "title", "examples", "default", "nullable"):
            assert banned not in keywords, (tool.name, banned)
        assert '"type": "null"' not in json.dumps(schema), tool.name
        assert portable_problems(schema) == [], (tool.name, portable_problems(schema)[:3])
        assert set(schema.get("required", [])) <= set(schema["properties"]), tool.name


def _keywords(schema: object) -> set[str]:
    """Every schema keyword used below ``schema`` (property names are not keywords)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    found |= _keywords(sub)
            elif isinstance(value, (dict, list)):
                found |= _keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _keywords(item)
    return found


def test_domains_and_kinds(tools: list[ToolSpec]) -> None:
    by_name = {t.name: t for t in tools}
    assert {t.domain for t in tools} <= set(DOMAINS)
    assert {t.kind for t in tools} <= set(KINDS)
    assert by_name["accounting_get_accounts_balances"].kind == "get"  # a POST that only reads
    assert by_name["accounting_create_invoice"].kind == "create"
    assert by_name["accounting_update_client"].kind == "update"
    assert by_name["ecommerce_get_orders"].domain == "ecommerce"  # path segment 'commerce'
    assert by_name["consumers_delete_consumer"].kind == "delete"


def test_paginated_lists_take_limit_and_offset_not_page_and_size(tools: list[ToolSpec]) -> None:
    clients = next(t for t in tools if t.name == "accounting_get_clients")
    props = clients.input_schema["properties"]
    assert clients.paginated and "limit" in props and "offset" in props
    assert "page" not in props and "size" not in props
    assert sum(t.paginated for t in tools) > 60


def test_path_query_and_body_arguments_are_merged(tools: list[ToolSpec]) -> None:
    invoice = next(t for t in tools if t.name == "accounting_create_invoice")
    props, args = invoice.input_schema["properties"], invoice.args
    assert args["consumer_id"].where == "path" and args["folder_id"].where == "query"
    assert args["lines"].where == "body_field" and props["lines"]["type"] == "array"
    assert {"consumer_id", "invoice_type", "lines"} <= set(invoice.input_schema["required"])
    assert props["invoice_date"]["format"] == "date"
    assert props["invoice_type"]["enum"] == [
        "customer_invoice",
        "customer_refund",
        "supplier_invoice",
        "supplier_refund",
    ]
    # Every argument has a destination and every property an argument.
    for tool in tools:
        assert set(tool.args) == set(tool.input_schema["properties"]), tool.name


def test_body_fields_colliding_with_parameters_are_renamed(tools: list[ToolSpec]) -> None:
    for tool in tools:
        wires = [(a.where, a.wire) for a in tool.args.values()]
        assert len(wires) == len(set(wires)), tool.name
    from chift_mcp.openapi.operations import Param
    from chift_mcp.tools.factory import input_schema

    op = Operation(
        id="x_create_thing",
        method="POST",
        path="/consumers/{consumer_id}/x/{thing_id}",
        domain="accounting",
        kind="create",
        summary="",
        description="",
        tags=(),
        params=(
            Param("consumer_id", "path", True, {"type": "string"}),
            Param("thing_id", "path", True, {"type": "string"}),
        ),
        body={
            "type": "object",
            "properties": {"thing_id": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["thing_id"],
        },
        body_required=True,
    )
    schema, args = input_schema(op)
    assert args["body_thing_id"].wire == "thing_id" and args["body_thing_id"].where == "body_field"
    assert args["limit"].where == "body_field"  # not paginated: no collision, no rename
    assert "body_thing_id" in schema["required"]


def test_without_consumer_hides_consumer_id(tools: list[ToolSpec]) -> None:
    clients = next(t for t in tools if t.name == "accounting_get_clients").bound
    assert "consumer_id" not in clients.input_schema["properties"]
    assert "consumer_id" not in clients.input_schema.get("required", [])


# ------------------------------------------------------------------ function config


def test_default_function_config_is_unified_domains_plus_discovery() -> None:
    config = parse_function_config(None)
    assert set(config) == {*UNIFIED_DOMAINS, "consumers", "connections"}
    assert config["accounting"] == frozenset(KINDS)
    assert config["consumers"] == frozenset({"get"})


def test_function_config_accepts_add_alias_commerce_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert parse_function_config('{"accounting": ["get", "add"]}') == {
        "accounting": frozenset({"get", "create"})
    }
    assert parse_function_config('{"commerce": ["get"]}') == {"ecommerce": frozenset({"get"})}
    path = tmp_path / "config.json"
    path.write_text('{"pos": ["get"]}')
    assert parse_function_config(str(path)) == {"pos": frozenset({"get"})}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"acounting": ["get"]}', "unknown domain 'acounting'; valid domains: accounting"),
        ('{"accounting": ["read"]}', "unknown kind 'read' for 'accounting'; valid kinds: get, create"),
        ('{"accounting": "get"}', "must map to a list"),
        ("[1]", "neither JSON nor a readable file"),
        ('"text"', "neither JSON nor a readable file"),
        ("{not json", "not valid JSON"),
        ("/nonexistent/config.json", "neither JSON nor a readable file"),
    ],
)
def test_invalid_function_config_is_one_clear_error(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_function_config(raw)


def test_shipped_configs_are_valid() -> None:
    from pathlib import Path

    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.json"))
    assert configs
    for path in configs:
        if path.name.startswith("tokens"):
            continue
        assert parse_function_config(str(path))


# ------------------------------------------------------------------ scope


def test_scope_filters_by_config_read_only_consumer_and_connections(tools: list[ToolSpec]) -> None:
    config = parse_function_config(
        '{"accounting": ["get", "create"], "consumers": ["get"], "connections": ["get"]}'
    )
    by_name = {t.name: t for t in tools}
    scope = Access.of(config)
    assert scope.allows(by_name["accounting_create_client"])
    assert not scope.allows(by_name["accounting_update_client"])
    assert "not enabled" in (scope.refusal(by_name["pos_get_orders"]) or "")
    read_only = Access.of(config, read_only=True)
    assert not read_only.allows(by_name["accounting_create_client"])
    assert read_only.allows(by_name["accounting_get_accounts_balances"])
    bound = Access.of(config, consumer_id="c1")
    assert not bound.allows(by_name["consumers_get_consumers"])  # account-level: other consumers
    assert bound.allows(by_name["consumers_get_consumer"])
    narrowed = Access.of(config, consumer_id="c1", active_domains=frozenset({"pos"}))
    assert "no active accounting connection" in (narrowed.refusal(by_name["accounting_get_clients"]) or "")
    assert narrowed.allows(by_name["connections_get_connections"])


def test_a_function_config_copied_from_the_official_server_starts(caplog: pytest.LogCaptureFixture) -> None:
    """The official server's default config names a `custom` domain the spec has no operation in:
    accepted and ignored with a warning, so a config copied from its README starts here too."""
    from chift_mcp.tools.access import parse_function_config

    config = parse_function_config('{"accounting": ["get", "add"], "custom": ["get", "create"]}')
    assert config == {"accounting": frozenset({"get", "create"})}
    assert "custom" in caplog.text
