"""Paginated lists: stable totals, items independent of the page size, empty pages past the end."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette

from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import DEMO_CONSUMER_ID, SandboxConfig, build_app

pytestmark = pytest.mark.anyio
BASE = f"/consumers/{DEMO_CONSUMER_ID}"


async def items(api: httpx2.AsyncClient, path: str, page: int, size: int, **query: str) -> dict:
    response = await api.get(path, params={"page": page, "size": size, **query})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/accounting/clients", {}),
        ("/accounting/invoices/type/customer_invoice", {}),
        ("/invoicing/invoices", {}),
        ("/commerce/orders", {}),
    ],
)
async def test_stored_resources_have_more_than_100_items_and_stable_paging(
    api: httpx2.AsyncClient, path: str, query: dict[str, str]
) -> None:
    first = await items(api, BASE + path, 1, 100, **query)
    total = first["total"]
    assert 100 < total <= 137 and len(first["items"]) == 100
    assert (first["page"], first["size"]) == (1, 100)
    second = await items(api, BASE + path, 2, 100, **query)
    assert len(second["items"]) == total - 100 and second["total"] == total
    by_25 = [await items(api, BASE + path, page, 25, **query) for page in range(1, 7)]
    flat = [item for page in by_25 for item in page["items"]]
    assert flat == first["items"] + second["items"]
    assert len({item["id"] for item in flat}) == total  # ids are unique
    beyond = await items(api, BASE + path, 99, 50, **query)
    assert beyond["items"] == [] and beyond["total"] == total and beyond["page"] == 99


async def test_generated_lists_have_a_stable_total_per_route(api: httpx2.AsyncClient) -> None:
    totals = set()
    for page in (1, 2, 3):
        totals.add((await items(api, f"{BASE}/pos/products", page, 10))["total"])
    assert len(totals) == 1 and 0 <= totals.pop() <= 137


async def test_defaults_are_page_1_size_50(api: httpx2.AsyncClient) -> None:
    data = (await api.get(f"{BASE}/accounting/suppliers")).json()
    assert (data["page"], data["size"], len(data["items"])) == (1, 50, 50)


async def test_same_seed_same_data_other_seed_other_data(chift_spec: Spec, api: httpx2.AsyncClient) -> None:
    ours = (await api.get(f"{BASE}/accounting/clients", params={"size": 3})).json()
    again = (await api.get(f"{BASE}/accounting/clients", params={"size": 3})).json()
    assert ours == again
    other = build_app(chift_spec, SandboxConfig(seed=42))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=other), base_url="http://s") as client:
        from support.sandbox import CREDENTIALS

        token = (await client.post("/token", json=CREDENTIALS)).json()["access_token"]
        theirs = (
            await client.get(
                f"{BASE}/accounting/clients", params={"size": 3}, headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
    assert theirs["items"] != ours["items"]


async def test_explicit_filters_are_echoed_by_items(api: httpx2.AsyncClient) -> None:
    entries = await items(
        api, f"{BASE}/accounting/journal/entries", 1, 20, unposted_allowed="true", journal_id="J42"
    )
    assert entries["items"] and {e["journal_id"] for e in entries["items"]} == {"J42"}
    invoice_types = await items(api, f"{BASE}/accounting/invoices/type/supplier_refund", 1, 20)
    assert {i["invoice_type"] for i in invoice_types["items"]} == {"supplier_refund"}


async def test_repeated_gets_are_served_from_the_cache(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    for _ in range(5):
        await api.get(f"{BASE}/accounting/journals", params={"size": 5})
    assert sandbox_app.state.sandbox.stats()["cache_hits"] >= 4


async def test_include_flags_set_to_false_drop_the_details(api: httpx2.AsyncClient) -> None:
    data = await items(api, f"{BASE}/invoicing/invoices", 1, 10, include_invoice_lines="false")
    assert all(invoice["lines"] == [] for invoice in data["items"])
