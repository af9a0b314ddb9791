"""Created objects can be read back (get-one and list), updated, and unknown ids are 404."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from support.sandbox import body_schema, schema_errors, shared_spec, success

from chift_mcp.sandbox import ACCOUNTING_CONSUMER_ID, DEMO_CONSUMER_ID
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.resources import RESOURCES, Resource
from chift_mcp.sandbox.store import not_found_example

pytestmark = pytest.mark.anyio
BASE = f"/consumers/{DEMO_CONSUMER_ID}"
UNKNOWN = "0badc0de-0000-4000-8000-000000000000"
FRESH = {"x-chift-force-refresh": "true"}  # past Chift's 5-minute GET cache (cache.py)


def route(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, item in shared_spec().paths.items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise KeyError(operation_id)


def url(template: str, **values: str) -> str:
    out = template.replace("{consumer_id}", DEMO_CONSUMER_ID)
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


LIST_QUERY = {"accounting_get_journal_entries": {"unposted_allowed": "true"}}


async def total_of(api: httpx2.AsyncClient, resource: Resource, variant: str) -> int:
    _, template, _ = route(resource.lists[0])
    response = await api.get(
        url(template, **({resource.variant: variant} if resource.variant else {})),
        params={"size": 1, **LIST_QUERY.get(resource.lists[0], {})},
        headers=FRESH,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


@pytest.mark.parametrize("resource", RESOURCES, ids=[r.name for r in RESOURCES])
async def test_created_objects_are_read_back(api: httpx2.AsyncClient, resource: Resource) -> None:
    spec = shared_spec()
    method, template, op = route(resource.creates[0])
    body = DataGenerator(seed=3).generate(body_schema(spec, op), f"create|{resource.name}")
    variant = str(body.get(resource.variant, "")) if resource.variant else ""
    before = await total_of(api, resource, variant)

    created = await api.request(method, url(template), json=body)
    status, schema = success(spec, op)
    assert created.status_code == status, created.text
    obj = created.json()
    assert schema_errors(schema, obj) == [] and obj["id"]
    for field in ("name", "company_name", "first_name", "invoice_number", "number", "reference"):
        if isinstance(body.get(field), str) and field in obj:
            assert obj[field] == body[field], field  # the body's values are kept

    assert await total_of(api, resource, variant) == before + 1
    _, list_template, _ = route(resource.lists[0])
    last_page = await api.get(
        url(list_template, **({resource.variant: variant} if resource.variant else {})),
        params={"page": before + 1, "size": 1, **LIST_QUERY.get(resource.lists[0], {})},
        headers=FRESH,
    )
    assert [item["id"] for item in last_page.json()["items"]] == [obj["id"]]

    for get_op in resource.gets:
        _, get_template, get_spec = route(get_op)
        fetched = await api.get(url(get_template, **{resource.id_param: obj["id"]}))
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["id"] == obj["id"]
        assert schema_errors(success(spec, get_spec)[1], fetched.json()) == []
        missing = await api.get(url(get_template, **{resource.id_param: UNKNOWN}))
        code, message = not_found_example(get_spec, resource.label) or resource.not_found or ("", "")
        assert missing.status_code == 404 and missing.json()["error_code"] == code != ""
        assert ("${" not in message) or UNKNOWN in missing.json()["message"]


async def test_created_client_keeps_its_fields(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    address = {
        "address_type": "main",
        "street": "Rue Haute 1",
        "city": "Brussels",
        "postal_code": "1000",
        "country": "BE",
    }
    created = (
        await api.post(
            f"{BASE}/accounting/clients",
            json={"name": "ACME SA", "vat": "BE0123456789", "addresses": [address]},
        )
    ).json()
    fetched = (await api.get(f"{BASE}/accounting/clients/{created['id']}")).json()
    assert fetched["name"] == "ACME SA" and fetched["vat"] == "BE0123456789"
    assert (
        fetched["addresses"][0]["street"] == "Rue Haute 1" and fetched["addresses"][0]["city"] == "Brussels"
    )
    stats = sandbox_app.state.sandbox.stats()
    assert stats["created"] == {"accounting.clients": 1}
    assert stats["processed_writes"] == {"accounting_create_client": 1}


async def test_objects_are_per_consumer(api: httpx2.AsyncClient) -> None:
    created = (await api.post(f"{BASE}/accounting/clients", json={"name": "Mine", "addresses": []})).json()
    other = await api.get(f"/consumers/{ACCOUNTING_CONSUMER_ID}/accounting/clients/{created['id']}")
    assert other.status_code == 404


async def test_updates_apply_to_created_and_listed_objects(api: httpx2.AsyncClient) -> None:
    created = (await api.post(f"{BASE}/accounting/clients", json={"name": "Old", "addresses": []})).json()
    patched = await api.patch(f"{BASE}/accounting/clients/{created['id']}", json={"name": "New"})
    assert patched.status_code == 200 and patched.json()["name"] == "New"
    assert (await api.get(f"{BASE}/accounting/clients/{created['id']}")).json()["name"] == "New"

    listed = (await api.get(f"{BASE}/accounting/clients", params={"size": 1})).json()["items"][0]
    await api.patch(f"{BASE}/accounting/clients/{listed['id']}", json={"email": "new@example.com"})
    again = (await api.get(f"{BASE}/accounting/clients", params={"size": 1}, headers=FRESH)).json()["items"][
        0
    ]
    assert again["email"] == "new@example.com" and again["id"] == listed["id"]
    assert (await api.patch(f"{BASE}/accounting/clients/{UNKNOWN}", json={"name": "x"})).status_code == 404


async def test_listed_invoice_is_readable_in_both_representations(api: httpx2.AsyncClient) -> None:
    listed = (await api.get(f"{BASE}/accounting/invoices/type/customer_invoice", params={"size": 1})).json()
    invoice_id = listed["items"][0]["id"]
    mono = await api.get(f"{BASE}/accounting/invoices/{invoice_id}")
    multi = await api.get(f"{BASE}/accounting/invoices/multi-analytic-plans/{invoice_id}")
    assert mono.status_code == multi.status_code == 200
    assert mono.json()["invoice_type"] == "customer_invoice"
    assert mono.json()["invoice_number"] == listed["items"][0]["invoice_number"]


async def test_consumers_crud(api: httpx2.AsyncClient) -> None:
    listed = (await api.get("/consumers")).json()
    assert {c["name"] for c in listed} == {
        "Demo Company",
        "Accounting Only SRL",
        "Inactive Connection BV",
        "Two Ledgers SA",
        "Fiduciaire Multi-Dossiers",
    }
    assert [c["name"] for c in (await api.get("/consumers", params={"search": "demo"})).json()] == [
        "Demo Company"
    ]
    created = (await api.post("/consumers", json={"name": "New Co", "email": "a@new.example"})).json()
    consumer = created["consumerid"]
    assert (await api.get(f"/consumers/{consumer}")).json()["email"] == "a@new.example"
    assert (await api.patch(f"/consumers/{consumer}", json={"name": "Renamed"})).json()["name"] == "Renamed"
    assert (await api.get(f"/consumers/{consumer}/connections")).json() == []
    no_conn = await api.get(f"/consumers/{consumer}/accounting/clients")
    assert no_conn.status_code == 400 and no_conn.json()["error_code"] == "ERROR_NO_ACTIVE_CONNECTION"
    assert (await api.delete(f"/consumers/{consumer}")).status_code == 204
    assert (await api.get(f"/consumers/{consumer}")).status_code == 404


async def test_connections_reflect_the_config(api: httpx2.AsyncClient) -> None:
    demo = (await api.get(f"{BASE}/connections")).json()
    assert {c["api"] for c in demo} == {
        "Accounting",
        "Invoicing",
        "Point of Sale",
        "eCommerce",
        "Payment",
        "Banking",
        "Property Management System",
        "Spend Management",
    }
    assert all(c["status"] == "active" and c["connectionid"] and c["integration"] for c in demo)
    only = (await api.get(f"/consumers/{ACCOUNTING_CONSUMER_ID}/connections")).json()
    assert [(c["api"], c["status"]) for c in only] == [("Accounting", "active")]
    one = await api.get(f"{BASE}/connections/{demo[0]['connectionid']}")
    assert one.json() == demo[0]
    assert (await api.get(f"{BASE}/connections/{UNKNOWN}")).status_code == 404


async def test_deleting_a_connection_disables_its_domain(api: httpx2.AsyncClient) -> None:
    connections = (await api.get(f"{BASE}/connections")).json()
    pos = next(c for c in connections if c["api"] == "Point of Sale")
    assert (await api.delete(f"{BASE}/connections/{pos['connectionid']}")).status_code == 204
    response = await api.get(f"{BASE}/pos/orders")
    assert response.status_code == 400 and response.json()["error_code"] == "ERROR_NO_ACTIVE_CONNECTION"
    assert "Point of Sale" in response.json()["detail"]


async def test_one_connection_per_integration(api: httpx2.AsyncClient) -> None:
    """Docs "Connection concepts": "only one connection per integration"; the message is the spec's."""
    body = {"integrationid": 3002, "name": "Second", "credentials": [{"key": "url", "value": "x"}]}
    again = await api.post(f"{BASE}/connections", json=body)
    assert again.status_code == 400 and "already an active connection" in again.json()["message"]
    assert len((await api.get(f"{BASE}/connections")).json()) == 8
