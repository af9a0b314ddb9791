"""Every operation of the spec answers with its documented status and schema-valid data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from support.sandbox import (
    CREDENTIALS,
    body_schema,
    operations,
    param_value,
    params,
    schema_errors,
    shared_spec,
    success,
)

from chift_mcp.sandbox import DEMO_CONSUMER_ID, build_app
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.resources import roles

pytestmark = pytest.mark.anyio

TOKEN_OPS = {"generate_access_token_token_post", "generate_mcp_token_mcp_token_post"}
OPERATIONS = [(m, p, op) for m, p, op in operations(shared_spec()) if op["operationId"] not in TOKEN_OPS]
BY_ID = {op["operationId"]: (m, p, op) for m, p, op in OPERATIONS}
BODIES = DataGenerator(seed=1)


@pytest.fixture(scope="module")
def shared_app() -> Starlette:
    """One app for the whole module: compiling each route once keeps this sweep fast."""
    return build_app(shared_spec())


@pytest.fixture
async def client(shared_app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=shared_app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        token = (await http.post("/token", json=CREDENTIALS)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


async def call(
    client: httpx2.AsyncClient,
    operation_id: str,
    values: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    """Call an operation with valid parameters and body (``values`` override path parameters)."""
    spec = shared_spec()
    method, template, op = BY_ID[operation_id]
    values = dict(values or {})
    query = dict(query or {})
    for param in params(spec, op):
        if param["in"] == "path" and param["name"] not in values:
            values[param["name"]] = (
                DEMO_CONSUMER_ID if param["name"] == "consumer_id" else param_value(param["schema"])
            )
        elif param["in"] == "query" and param.get("required") and param["name"] not in query:
            query[param["name"]] = param_value(param["schema"])
    schema = body_schema(spec, op)
    body: Any = None
    if schema is not None:
        body = BODIES.generate(schema, f"body|{operation_id}")
        assert schema_errors(schema, body) == [], "the test's own body must be valid"
    return await client.request(
        method, fill(template, values), params=query, json=body, headers=headers or {}
    )


async def accounting_connection(client: httpx2.AsyncClient, consumer_id: str) -> str:
    connections = (await client.get(f"/consumers/{consumer_id}/connections")).json()
    return next(c["connectionid"] for c in connections if c["api"] == "Accounting")


async def prepare(client: httpx2.AsyncClient, operation_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """Path values and query for an operation that needs existing objects."""
    values: dict[str, str] = {}
    query: dict[str, str] = {}
    if operation_id in ("consumers_delete_consumer", "connections_delete_connection"):
        consumer = (await client.post("/consumers", json={"name": "Throwaway"})).json()["consumerid"]
        values["consumer_id"] = consumer
        if operation_id == "connections_delete_connection":
            body = {"integrationid": 1012, "name": "Odoo", "credentials": [{"key": "url", "value": "x"}]}
            assert (await client.post(f"/consumers/{consumer}/connections", json=body)).status_code == 200
            values["connectionid"] = await accounting_connection(client, consumer)
        return values, query
    _, template, _ = BY_ID[operation_id]
    if "{connectionid}" in template or "{connection_id}" in template:
        connection = await accounting_connection(client, DEMO_CONSUMER_ID)
        values["connectionid"] = values["connection_id"] = connection
    if operation_id.startswith("get_transaction_by_client_request_id"):
        request_id = f"sweep-{uuid.uuid4()}"
        created = await call(
            client, "accounting_create_client", headers={"X-Chift-Client-RequestId": request_id}
        )
        assert created.status_code == 200
        query["client_request_id"] = request_id
    if operation_id == "accounting_get_folder":  # a folder of the connection (scope.py)
        values["folder_id"] = (await call(client, "accounting_get_folders")).json()[0]["id"]
    role = roles().get(operation_id)
    if role is not None and role[1] in ("get", "update"):
        resource = role[0]
        listed = await call(client, resource.lists[0])
        assert listed.status_code == 200, listed.text
        values[resource.id_param] = listed.json()["items"][0]["id"]
    return values, query


@pytest.mark.parametrize(
    ("method", "template", "operation_id"),
    [(m, p, op["operationId"]) for m, p, op in OPERATIONS],
    ids=[op["operationId"][:60] for _, _, op in OPERATIONS],
)
async def test_every_operation_answers_with_schema_valid_data(
    client: httpx2.AsyncClient, method: str, template: str, operation_id: str
) -> None:
    values, query = await prepare(client, operation_id)
    response = await call(client, operation_id, values, query)
    status, schema = success(shared_spec(), BY_ID[operation_id][2])
    assert response.status_code == status, f"{method} {template}: {response.text[:500]}"
    if schema is None:
        assert response.content == b""
        return
    assert response.headers["content-type"].startswith("application/json")
    assert schema_errors(schema, response.json()) == []


def test_the_sweep_covers_every_operation() -> None:
    spec = shared_spec()
    total = sum(1 for _ in operations(spec))
    under_consumers = [p for _, p, _ in operations(spec) if p.startswith("/consumers/{consumer_id}")]
    assert len(OPERATIONS) == total - len(TOKEN_OPS) and total >= 200
    assert len(under_consumers) >= 180


async def test_domain_calls_need_an_active_connection(client: httpx2.AsyncClient) -> None:
    from chift_mcp.sandbox import ACCOUNTING_CONSUMER_ID, INACTIVE_CONSUMER_ID

    ok = await call(client, "accounting_get_clients", {"consumer_id": ACCOUNTING_CONSUMER_ID})
    no_pos = await call(client, "pos_get_orders", {"consumer_id": ACCOUNTING_CONSUMER_ID})
    inactive = await call(client, "invoicing_get_invoices", {"consumer_id": INACTIVE_CONSUMER_ID})
    assert ok.status_code == 200
    for response, api in ((no_pos, "Point of Sale"), (inactive, "Invoicing")):
        assert response.status_code == 400
        body = response.json()
        assert body["error_code"] == "ERROR_NO_ACTIVE_CONNECTION" and api in body["detail"]
    # Account-level routes under a consumer do not need a connection.
    assert (
        await call(client, "issues_get_issues_by_consumer_id", {"consumer_id": INACTIVE_CONSUMER_ID})
    ).status_code == 200


async def test_unknown_consumer_is_a_404(client: httpx2.AsyncClient) -> None:
    unknown = "99999999-9999-4999-8999-999999999999"
    for operation_id in ("accounting_get_clients", "consumers_get_consumer", "connections_get_connections"):
        response = await call(client, operation_id, {"consumer_id": unknown})
        assert response.status_code == 404
        assert response.json() == {  # the spec's example: a platform answer, without a code
            "status": "error",
            "message": "The consumer does not exist",
            "error_code": None,
            "detail": "",
        }


async def test_unknown_route_and_method(client: httpx2.AsyncClient) -> None:
    missing = await client.get(f"/consumers/{DEMO_CONSUMER_ID}/accounting/nothing-here")
    wrong_method = await client.put(f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients")
    assert missing.status_code == 400 and missing.json()["error_code"] == "ERROR_API_RESOURCE_NOT_FOUND"
    assert (
        wrong_method.status_code == 405
        and wrong_method.json()["error_code"] == "ERROR_RESOURCE_NOT_SUPPORTED"
    )
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "POST"}
