"""Invalid path, query and body are refused with Chift's 422 answer and never processed."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from chift_mcp.openapi.operations import Operation
from chift_mcp.sandbox import DEMO_CONSUMER_ID
from chift_mcp.sandbox.validation import Invalid, RequestValidator

pytestmark = pytest.mark.anyio
BASE = f"/consumers/{DEMO_CONSUMER_ID}"


def assert_422(response: httpx2.Response, code: str, loc: list[Any]) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == "error" and body["error_code"] == code and body["message"]
    assert any(d["loc"] == loc for d in body["detail"]), body["detail"]
    assert all({"loc", "msg", "type"} <= set(d) for d in body["detail"])
    return body


@pytest.mark.parametrize(
    ("path", "query", "loc"),
    [
        ("/accounting/clients", {"size": "0"}, ["query", "size"]),
        ("/accounting/clients", {"size": "101"}, ["query", "size"]),
        ("/accounting/clients", {"page": "abc"}, ["query", "page"]),
        ("/accounting/clients", {"updated_after": "yesterday"}, ["query", "updated_after"]),
        ("/accounting/outstandings", {"unposted_allowed": "true"}, ["query", "type"]),  # required, missing
        ("/accounting/outstandings", {"type": "partner", "unposted_allowed": "true"}, ["query", "type"]),
        ("/pos/sales", {"date_from": "2025-13-01", "date_to": "2025-01-31"}, ["query", "date_from"]),
    ],
)
async def test_bad_query_parameters(
    api: httpx2.AsyncClient, path: str, query: dict[str, str], loc: list[str]
) -> None:
    body = assert_422(await api.get(BASE + path, params=query), "ERROR_INVALID_QUERY_PARAMETER", loc)
    assert loc[1] in body["message"]


async def test_bad_path_parameters(api: httpx2.AsyncClient) -> None:
    assert_422(
        await api.get("/consumers/not-a-uuid/accounting/clients"),
        "ERROR_INVALID_PATH_PARAMETER",
        ["path", "consumer_id"],
    )
    assert_422(
        await api.get(f"{BASE}/accounting/invoices/type/quote"),
        "ERROR_INVALID_PATH_PARAMETER",
        ["path", "invoice_type"],
    )


async def test_path_errors_win_but_all_errors_are_listed(api: httpx2.AsyncClient) -> None:
    body = assert_422(
        await api.get("/consumers/nope/accounting/clients", params={"size": "500"}),
        "ERROR_INVALID_PATH_PARAMETER",
        ["path", "consumer_id"],
    )
    assert ["query", "size"] in [d["loc"] for d in body["detail"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"addresses": []}, ["body", "name"]),
        ({"name": "ACME"}, ["body", "addresses"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": 12}, ["body", "name"]),
        ({"name": "ACME", "addresses": [], "is_company": "yes"}, ["body", "is_company"]),
        ({"name": "ACME", "addresses": [{"street": "Rue Haute"}]}, ["body", "addresses", 0, "address_type"]),
    ],
)
async def test_bad_bodies(
    api: httpx2.AsyncClient, sandbox_app: Starlette, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await api.post(f"{BASE}/accounting/clients", json=body)
    assert_422(response, "ERROR_INVALID_BODY", loc)
    state = sandbox_app.state.sandbox
    assert state.created == {} and state.log[-1]["processed"] is False


async def test_malformed_and_missing_bodies(api: httpx2.AsyncClient) -> None:
    broken = await api.post(
        f"{BASE}/accounting/clients", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    body = assert_422(broken, "ERROR_INVALID_BODY", ["body", 9])
    assert body["detail"][0]["type"] == "json_invalid"
    assert_422(await api.post(f"{BASE}/accounting/clients"), "ERROR_INVALID_BODY", ["body"])


async def test_nested_body_errors_point_at_the_field(api: httpx2.AsyncClient) -> None:
    invoice = {
        "invoice_type": "customer_invoice",
        "currency": "EUR",
        "untaxed_amount": 100,
        "tax_amount": 21,
        "total": "121",
        "invoice_date": "2025-02-30",
        "due_date": "2025-03-31",
        "lines": [{"line_number": 1}],
    }
    body = assert_422(
        await api.post(f"{BASE}/accounting/invoices", json=invoice), "ERROR_INVALID_BODY", ["body", "total"]
    )
    locs = [d["loc"] for d in body["detail"]]
    assert ["body", "invoice_date"] in locs and ["body", "lines", 0, "unit_price"] in locs


async def test_a_valid_body_is_accepted(api: httpx2.AsyncClient) -> None:
    response = await api.post(f"{BASE}/accounting/clients", json={"name": "ACME SA", "addresses": []})
    assert response.status_code == 200


async def test_inputs_are_read_like_pydantic_reads_them(api: httpx2.AsyncClient) -> None:
    # A date for a date-time filter, "1"/"0" for booleans and unknown query parameters are accepted.
    response = await api.get(
        f"{BASE}/accounting/clients", params={"updated_after": "2023-01-31", "foo": "bar"}
    )
    assert response.status_code == 200
    assert (
        await api.get(f"{BASE}/accounting/journal/entries", params={"unposted_allowed": "true"})
    ).status_code == 200


def test_missing_fields_come_from_the_schema_error_not_its_message() -> None:
    """Every missing name of a ``required`` list is reported once, at its place, quotes and all."""
    body_schema = {
        "type": "object",
        "required": ["it's", "name", "kept"],
        "properties": {"inner": {"type": "object", "required": ["x", "y"]}},
    }
    operation = Operation(
        id="create_thing",
        method="POST",
        path="/things",
        domain="things",
        kind="create",
        summary="",
        description="",
        tags=(),
        params=(),
        body=body_schema,
        body_required=True,
    )
    checked = RequestValidator(operation).validate(
        {}, {}, {}, json.dumps({"kept": 1, "inner": {"y": 2}}).encode()
    )
    assert isinstance(checked, Invalid) and checked.error_code == "ERROR_INVALID_BODY"
    assert checked.detail == [
        {"loc": ["body", "it's"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "inner", "x"], "msg": "Field required", "type": "missing"},
    ]
    assert checked.message == "Invalid body: it's: Field required"
