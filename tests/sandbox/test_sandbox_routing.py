"""The router serves every spec operation, read once through ``chift_mcp.openapi.operations``, as the spec says."""

from __future__ import annotations

import re

import httpx2
import pytest
from support.sandbox import operations, shared_spec

from chift_mcp.openapi.operations import all_operations, load_operations
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import build_app
from chift_mcp.sandbox.config import connection_api
from chift_mcp.sandbox.routing import MethodNotAllowed, Router


def test_all_operations_are_the_tools_operations_plus_the_token_endpoints(chift_spec: Spec) -> None:
    everything = all_operations(chift_spec)
    tools = load_operations(chift_spec)
    assert [op for op in everything if op.domain != "token"] == tools
    tokens = {op.path: op for op in everything if op.domain == "token"}
    assert sorted(tokens) == ["/mcp-token", "/token"]
    assert all(op.method == "POST" and op.body is not None for op in tokens.values())
    assert len(everything) == len(operations(chift_spec))


def test_every_operation_is_matched_by_its_own_path(chift_spec: Spec) -> None:
    router = Router.for_spec(chift_spec)
    for operation in router.operations:
        path = re.sub(r"\{([^}]+)\}", lambda m: f"v-{m.group(1)}", operation.path)
        found = router.match(operation.method, path)
        assert found is not None, operation.path
        matched, params = found
        assert matched is operation, (operation.path, matched.path)
        names = re.findall(r"\{([^}]+)\}", operation.path)
        assert params == {name: f"v-{name}" for name in names}


def test_a_spec_is_read_once_for_every_app_built_on_it(chift_spec: Spec) -> None:
    assert Router.for_spec(chift_spec) is Router.for_spec(chift_spec)


def test_unknown_paths_and_methods() -> None:
    router = Router.for_spec(shared_spec())
    assert router.match("GET", "/nope") is None
    with pytest.raises(MethodNotAllowed) as refused:
        router.match("PATCH", "/token")
    assert refused.value.allowed == ["POST"]


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/consumers/{consumer_id}/accounting/clients", "Accounting"),
        ("/consumers/{consumer_id}/commerce/orders", "eCommerce"),
        ("/consumers/{consumer_id}/pos/orders", "Point of Sale"),
        ("/consumers/{consumer_id}/connections", None),
        ("/consumers", None),
        ("/token", None),
    ],
)
def test_the_connection_an_operation_needs(chift_spec: Spec, path: str, api: str | None) -> None:
    operation = next(op for op in Router.for_spec(chift_spec).operations if op.path == path)
    assert connection_api(operation) == api


def small_spec() -> Spec:
    ok_json = {"description": "ok", "content": {"application/json": {}}}  # JSON, no schema
    thing = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/things": {
                "get": {"operationId": "get_things", "responses": {"200": ok_json}},
                "post": {
                    "operationId": "create_thing",
                    "responses": {
                        "201": {"description": "", "content": {"application/json": {"schema": thing}}}
                    },
                },
                "delete": {"operationId": "delete_things", "responses": {"204": {"description": ""}}},
            }
        },
    }
    return Spec(document, source="test", digest="test")


@pytest.mark.anyio
async def test_success_status_and_body_follow_the_spec(anyio_backend: str) -> None:
    app = build_app(small_spec())
    token = app.state.sandbox.issue_token("tester")["access_token"]
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(transport=transport, base_url="http://s", headers=headers) as client:
        listed = await client.get("/things")
        created = await client.post("/things")
        deleted = await client.delete("/things")
    assert (listed.status_code, listed.json()) == (200, {})
    assert created.status_code == 201 and isinstance(created.json()["id"], str)
    assert (deleted.status_code, deleted.content) == (204, b"")
