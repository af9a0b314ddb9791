"""Loading the spec, deriving operations, and the on-disk tool cache."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from chift_mcp.app import load_tools
from chift_mcp.errors import ConfigError
from chift_mcp.openapi.operations import Operation, domain_of, kind_of
from chift_mcp.openapi.spec import Spec, bundled_path, load_spec
from chift_mcp.settings import Settings
from chift_mcp.tools import cache
from chift_mcp.tools.factory import _CHOOSE


def test_the_bundled_spec_is_read_from_the_chift_package_without_importing_it() -> None:
    import sys

    path = bundled_path()
    assert path is not None and path.name == "openapi.json" and "chift" in path.parts
    spec = load_spec()
    assert spec.source == "chift.openapi/openapi.json" and len(spec.digest) == 64
    assert "chift.models" not in sys.modules


def test_a_spec_file_overrides_the_bundled_one(tmp_path: Path) -> None:
    small = {
        "openapi": "3.1.0",
        "paths": {
            "/consumers/{consumer_id}/pos/orders": {"get": {"operationId": "pos_get_orders", "responses": {}}}
        },
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(small))
    spec = load_spec(str(path))
    assert spec.source == str(path) and list(spec.paths) == ["/consumers/{consumer_id}/pos/orders"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "could not read the OpenAPI spec"),
        ("{not json", "is not valid JSON"),
        ('{"openapi": "3"}', "does not look like an OpenAPI"),
    ],
)
def test_a_bad_spec_override_is_one_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "spec.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_spec(str(path))


def test_refs_are_inlined_and_recursion_is_cut() -> None:
    doc = {
        "paths": {},
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "child": {"$ref": "#/components/schemas/Node"},
                        "n": {"$ref": "#/components/schemas/N"},
                    },
                },
                "N": {"type": "integer"},
            }
        },
    }
    resolved = Spec(doc, source="t", digest="0").resolve({"$ref": "#/components/schemas/Node"})
    assert resolved["properties"]["n"] == {"type": "integer"}
    assert resolved["properties"]["child"] == {"type": "object", "description": "(recursive)"}


@pytest.mark.parametrize(
    ("path", "domain"),
    [
        ("/consumers/{consumer_id}/accounting/clients", "accounting"),
        ("/consumers/{consumer_id}/commerce/orders", "ecommerce"),
        ("/consumers/{consumer_id}/connections/{connection_id}/enable_datalayer", "datalayer"),
        ("/consumers/{consumer_id}/datastore/{datastoreid}/data", "datastores"),
        ("/consumers/{consumer_id}", "consumers"),
        ("/consumers", "consumers"),
        ("/local-agents/releases", "local_agents"),
        ("/token", None),
        ("/mcp-token", None),
    ],
)
def test_domain_of(path: str, domain: str | None) -> None:
    assert domain_of(path) == domain


@pytest.mark.parametrize(
    ("method", "operation_id", "domain", "kind"),
    [
        ("post", "accounting_get_accounts_balances", "accounting", "get"),
        ("post", "insights_query_db", "insights", "get"),
        ("post", "ecommerce_update_variant_quantity", "ecommerce", "update"),
        ("post", "datalayer_enable", "datalayer", "update"),
        ("post", "accounting_add_attachment", "accounting", "create"),
        ("post", "agentic_syncs_ai_fill", "syncs", "create"),
        ("patch", "x", "pos", "update"),
        ("put", "x", "syncs", "update"),
        ("delete", "x", "webhooks", "delete"),
    ],
)
def test_kind_of(method: str, operation_id: str, domain: str, kind: str) -> None:
    assert kind_of(method, operation_id, domain) == kind


def test_operations_know_their_answer_shape(operations: list[Operation]) -> None:
    by_id = {op.id: op for op in operations}
    assert by_id["accounting_get_clients"].paginated and by_id["accounting_get_clients"].returns_list
    assert (
        by_id["connections_get_connections"].returns_list
        and not by_id["connections_get_connections"].paginated
    )
    assert not by_id["pos_get_order"].returns_list  # an order has {items, total} of its own
    assert by_id["consumers_delete_consumer"].returns.startswith("nothing")


def test_every_when_to_use_hint_names_operations_that_exist(operations: list[Operation]) -> None:
    import re

    ids = {op.id for op in operations}
    assert set(_CHOOSE) <= ids
    domains = "|".join(sorted({op.domain for op in operations}))
    named = re.compile(rf"\b(?:{domains})_[a-z_]+\b")
    for hint in _CHOOSE.values():
        assert set(named.findall(hint)) <= ids, hint  # argument names (folder_id) are not operations


def test_tools_are_cached_on_disk_and_rebuilt_when_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = load_tools(Settings())
    files = list((tmp_path / "chift-mcp").glob("tools-*.pickle"))
    assert len(files) == 1
    again = load_tools(Settings())
    assert [t.name for t in again] == [t.name for t in first] and again[0].input_schema == first[
        0
    ].input_schema
    other = load_tools(Settings(max_items=50))  # another input: another entry
    assert len(list((tmp_path / "chift-mcp").glob("tools-*.pickle"))) == 2
    assert (
        next(t for t in other if t.name == "accounting_get_clients").input_schema["properties"]["limit"][
            "maximum"
        ]
        == 50
    )


def test_a_corrupt_cache_file_means_a_rebuild_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    load_tools(Settings())
    (entry,) = (tmp_path / "chift-mcp").glob("tools-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert len(load_tools(Settings())) > 200
    assert pickle.loads(entry.read_bytes())  # rewritten


def test_an_unwritable_cache_directory_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file where a directory should be
    assert len(load_tools(Settings())) > 200
    assert cache.cache_dir() == blocked / "chift-mcp" and not os.path.isdir(blocked / "chift-mcp")
