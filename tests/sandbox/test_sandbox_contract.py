"""Chift's contract, one test per rule (docs/chift-contract.md): the GET cache, choosing a connection,
folders, creates that give back what they stored, and the spec at /openapi.json."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from support.sandbox import CREDENTIALS, shared_spec

from chift_mcp.sandbox import (
    DEMO_CONSUMER_ID,
    MULTI_FOLDER_CONSUMER_ID,
    TWO_CONNECTIONS_CONSUMER_ID,
    ConnectionConfig,
    ConsumerConfig,
    FolderConfig,
    SandboxConfig,
    build_app,
)

pytestmark = pytest.mark.anyio
CLIENTS = f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients"
ADDRESS = {
    "address_type": "main",
    "street": "Rue Haute 1",
    "city": "Bruxelles",
    "postal_code": "1000",
    "country": "BE",
}


def ids(answer: httpx2.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def last_page(api: httpx2.AsyncClient, **headers: str) -> httpx2.Response:
    total = (await api.get(CLIENTS, params={"size": 1}, headers=headers)).json()["total"]
    return await api.get(CLIENTS, params={"size": 1, "page": total}, headers=headers)


# -- rule: GET answers are cached 5 minutes; x-chift-force-refresh bypasses (docs "Caching") ----------


async def test_a_list_right_after_a_create_is_stale_and_fresh_with_the_header(
    api: httpx2.AsyncClient,
) -> None:
    before = await api.get(CLIENTS, params={"size": 1})
    created = (await api.post(CLIENTS, json={"name": "Cached SA", "addresses": [ADDRESS]})).json()
    stale = await api.get(CLIENTS, params={"size": 1})
    assert stale.json()["total"] == before.json()["total"]  # the cached answer: no new client
    fresh = await api.get(CLIENTS, params={"size": 1}, headers={"X-Chift-Force-Refresh": "TRUE"})
    assert fresh.json()["total"] == before.json()["total"] + 1
    again = await api.get(CLIENTS, params={"size": 1})  # the forced answer was cached in turn
    assert again.json()["total"] == fresh.json()["total"]
    page = await last_page(api, **{"x-chift-force-refresh": "true"})
    assert ids(page) == [created["id"]]


async def test_the_cache_lives_five_minutes_on_the_sandbox_clock(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    state = sandbox_app.state.sandbox
    total = (await api.get(CLIENTS, params={"size": 1})).json()["total"]
    await api.post(CLIENTS, json={"name": "Later SA", "addresses": [ADDRESS]})
    state.advance_clock(299)
    assert (await api.get(CLIENTS, params={"size": 1})).json()["total"] == total
    state.advance_clock(2)
    assert (await api.get(CLIENTS, params={"size": 1})).json()["total"] == total + 1


async def test_new_data_resets_the_lifetime_of_what_is_cached(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    """Docs: "When non-cached data is requested, already cached data has its lifetime reset"."""
    state = sandbox_app.state.sandbox
    total = (await api.get(CLIENTS, params={"size": 1})).json()["total"]
    await api.post(CLIENTS, json={"name": "Reset SA", "addresses": [ADDRESS]})
    state.advance_clock(200)
    await api.get(CLIENTS, params={"size": 1, "page": 2})  # another page: not cached yet
    state.advance_clock(200)  # 400 s after the first answer, 200 s after its reset
    assert (await api.get(CLIENTS, params={"size": 1})).json()["total"] == total


async def test_the_cache_is_per_connection_and_keeps_no_errors(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    state = sandbox_app.state.sandbox
    state.faults.add(match="accounting_get_clients", error_code="ERROR_CONNECTOR_MAINTENANCE")
    assert (await api.get(CLIENTS)).status_code == 503
    assert (await api.get(CLIENTS)).status_code == 200  # the error was not cached
    base = f"/consumers/{TWO_CONNECTIONS_CONSUMER_ID}"
    connections = [c for c in (await api.get(f"{base}/connections")).json() if c["api"] == "Accounting"]
    answers = [
        await api.get(
            f"{base}/accounting/clients",
            params={"size": 1},
            headers={"X-Chift-Connectionid": c["connectionid"]},
        )
        for c in connections
    ]
    assert ids(answers[0]) != ids(answers[1])  # two connections, two caches, two data sets


async def test_the_cache_can_be_turned_off(chift_spec: object) -> None:
    app = build_app(shared_spec(), SandboxConfig(cache_ttl=0))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox") as http:
        token = (await http.post("/token", json=CREDENTIALS)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        total = (await http.get(CLIENTS, params={"size": 1})).json()["total"]
        await http.post(CLIENTS, json={"name": "Uncached SA", "addresses": [ADDRESS]})
        assert (await http.get(CLIENTS, params={"size": 1})).json()["total"] == total + 1
        assert (await http.post("/_sandbox/cache", json={"ttl": 300})).json()["ttl"] == 300


# -- rule: several connections on one API need a choice (docs "Connection concepts") ----------------


async def test_two_connections_without_a_choice_are_refused(api: httpx2.AsyncClient) -> None:
    refused = await api.get(f"/consumers/{TWO_CONNECTIONS_CONSUMER_ID}/accounting/clients")
    body = refused.json()
    assert refused.status_code == 400 and body["error_code"] == "ERROR_CONFIGURATION_CONNECTION"
    assert body["message"] == "The connection is not correctly configured"  # the Python SDK's test
    # One connection on the API: no choice needed.
    assert (await api.get(f"/consumers/{TWO_CONNECTIONS_CONSUMER_ID}/invoicing/invoices")).status_code == 200


@pytest.mark.parametrize("header", ["X-Chift-Connectionid", "x-chift-connectionid", "X-Chift-ConnectionId"])
async def test_the_connection_header_chooses(
    api: httpx2.AsyncClient, sandbox_app: Starlette, header: str
) -> None:
    base = f"/consumers/{TWO_CONNECTIONS_CONSUMER_ID}"
    exact = next(
        c for c in (await api.get(f"{base}/connections")).json() if c["integration"] == "Exact Online"
    )
    chosen = await api.get(f"{base}/accounting/clients", headers={header: exact["connectionid"]})
    assert chosen.status_code == 200
    assert sandbox_app.state.sandbox.log[-1]["connection_id"] == exact["connectionid"]  # it reached us
    by_integration = await api.get(
        f"{base}/accounting/clients", headers={"X-Chift-Integrationid": str(exact["integrationid"])}
    )
    assert by_integration.status_code == 200 and by_integration.json() == chosen.json()


async def test_ids_belong_to_their_connection(api: httpx2.AsyncClient) -> None:
    base = f"/consumers/{TWO_CONNECTIONS_CONSUMER_ID}"
    odoo, exact = (
        c["connectionid"] for c in (await api.get(f"{base}/connections")).json() if c["api"] == "Accounting"
    )
    created = await api.post(
        f"{base}/accounting/clients",
        json={"name": "Only In Odoo", "addresses": [ADDRESS]},
        headers={"X-Chift-Connectionid": odoo},
    )
    client_id = created.json()["id"]
    mine = await api.get(f"{base}/accounting/clients/{client_id}", headers={"X-Chift-Connectionid": odoo})
    other = await api.get(f"{base}/accounting/clients/{client_id}", headers={"X-Chift-Connectionid": exact})
    assert mine.status_code == 200 and other.status_code == 404
    assert other.json()["error_code"] == "ERROR_PARTNER_NOT_FOUND"
    wrong = await api.get(f"{base}/accounting/clients", headers={"X-Chift-Connectionid": "not-a-connection"})
    assert wrong.status_code == 400 and wrong.json()["message"] == "The specified connectionid is not valid"


# -- rule: multi-folder connections need folder_id (docs "Folders") ---------------------------------


async def test_multi_folder_without_and_with_folder_id(api: httpx2.AsyncClient) -> None:
    base = f"/consumers/{MULTI_FOLDER_CONSUMER_ID}/accounting"
    folders = (await api.get(f"{base}/folders")).json()  # needs no folder_id: a bare array
    assert [(f["id"], f["selected"]) for f in folders] == [("1001", True), ("1002", True), ("1003", False)]
    missing = await api.get(f"{base}/clients")
    assert missing.status_code == 422 and missing.json()["error_code"] == "ERROR_INVALID_QUERY_PARAMETER"
    assert missing.json()["detail"][0]["loc"] == ["query", "folder_id"]
    first = await api.get(f"{base}/clients", params={"folder_id": "1001", "size": 3})
    second = await api.get(f"{base}/clients", params={"folder_id": "1002", "size": 3})
    assert ids(first) != ids(second)  # one legal entity each
    for folder in ("1003", "9999"):  # not selected, unknown
        refused = await api.get(f"{base}/clients", params={"folder_id": folder})
        assert refused.status_code == 404 and refused.json()["error_code"] == "ERROR_FOLDER_NOT_FOUND"
        assert refused.json()["message"] == "Folder not found"
    assert (await api.get(f"{base}/folders/1002")).json()["name"] == "Garage Lambert SA"


async def test_one_selected_folder_is_the_default_and_single_mode_ignores_folder_id() -> None:
    consumer = ConsumerConfig(
        "66666666-6666-4666-8666-666666666666",
        "One Folder Left",
        connections=(
            ConnectionConfig(
                "Accounting",
                folders=(FolderConfig("A", "Kept"), FolderConfig("B", "Dropped", selected=False)),
            ),
        ),
    )
    app = build_app(shared_spec(), SandboxConfig(consumers=(consumer,)))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox") as http:
        token = (await http.post("/token", json=CREDENTIALS)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        base = f"/consumers/{consumer.consumer_id}/accounting/clients"
        assert ids(await http.get(base)) == ids(await http.get(base, params={"folder_id": "A"}))
    app = build_app(shared_spec())
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox") as http:
        token = (await http.post("/token", json=CREDENTIALS)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        plain = await http.get(CLIENTS, params={"size": 2})
        ignored = await http.get(CLIENTS, params={"size": 2, "folder_id": "anything"})
        assert ids(plain) == ids(ignored)  # regular mode: "The folder_id query parameter is ignored"


# -- rule: a connector returns what it stored (no invented contact details) --------------------------


async def test_a_create_gives_back_what_was_sent(api: httpx2.AsyncClient) -> None:
    created = (await api.post(CLIENTS, json={"name": "ACME SA", "addresses": [ADDRESS]})).json()
    fetched = (await api.get(f"{CLIENTS}/{created['id']}")).json()
    for answer in (created, fetched):
        assert answer["name"] == "ACME SA" and answer["addresses"][0]["street"] == "Rue Haute 1"
        for never_sent in ("email", "mobile", "phone", "iban", "company_number", "vat", "website"):
            assert answer[never_sent] is None, never_sent
        assert answer["is_company"] is True and answer["active"] is True  # the schema's defaults
        assert answer["id"] and answer["last_updated_on"]  # what the server makes


# -- rule: the spec at {url_base}/openapi.json, without authentication ------------------------------


async def test_the_spec_is_served(sandbox: httpx2.AsyncClient) -> None:
    served = await sandbox.get("/openapi.json")  # no token
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
    assert served.json() == shared_spec().document


async def test_the_cache_is_emptied_and_set_over_http(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    total = (await api.get(CLIENTS, params={"size": 1})).json()["total"]
    await api.post(CLIENTS, json={"name": "Emptied SA", "addresses": [ADDRESS]})
    assert (await api.delete("/_sandbox/cache")).json() == {"cleared": 1, "ttl": 300}
    assert (await api.get(CLIENTS, params={"size": 1})).json()["total"] == total + 1
    assert (await api.post("/_sandbox/cache", json={"ttl": -1})).status_code == 422
    assert (await api.post("/_sandbox/cache", json={"ttl": 0})).json()["ttl"] == 0
    await api.post("/_sandbox/reset")
    assert sandbox_app.state.sandbox.cache.ttl == 0  # an admin setting, kept by reset
    assert (await api.post("/_sandbox/clock", json={"backoff_scale": -2})).status_code == 422
