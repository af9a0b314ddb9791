"""X-Chift-Client-RequestId: replays are refused with 409 and outcomes can be looked up."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from chift_mcp.sandbox import DEMO_CONSUMER_ID

pytestmark = pytest.mark.anyio
BASE = f"/consumers/{DEMO_CONSUMER_ID}"
CLIENTS = f"{BASE}/accounting/clients"
CLIENT = {"name": "Once BV", "addresses": []}


def rid(value: str) -> dict[str, str]:
    return {"X-Chift-Client-RequestId": value}


async def accounting_connection(api: httpx2.AsyncClient) -> str:
    connections = (await api.get(f"{BASE}/connections")).json()
    return next(c["connectionid"] for c in connections if c["api"] == "Accounting")


async def test_a_replayed_post_is_a_409_and_creates_nothing(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    first = await api.post(CLIENTS, json=CLIENT, headers=rid("req-1"))
    replay = await api.post(CLIENTS, json=CLIENT, headers=rid("req-1"))
    assert first.status_code == 200
    assert replay.status_code == 409
    assert replay.json() == {
        "status": "error",
        "message": "Request already processed: 200",
        "error_code": "REQUEST_ALREADY_PROCESSED",
        "detail": "Request with same client request id req-1 was already successfully processed",
    }
    state = sandbox_app.state.sandbox
    assert state.stats()["created"] == {"accounting.clients": 1}
    assert state.stats()["replays_rejected"] == 1
    other = await api.post(CLIENTS, json=CLIENT, headers=rid("req-2"))
    assert other.status_code == 200 and other.json()["id"] != first.json()["id"]


async def test_the_request_id_spans_endpoints(api: httpx2.AsyncClient) -> None:
    assert (await api.post(CLIENTS, json=CLIENT, headers=rid("shared"))).status_code == 200
    supplier = await api.post(f"{BASE}/accounting/suppliers", json=CLIENT, headers=rid("shared"))
    assert supplier.status_code == 409


async def test_a_refused_request_can_be_retried_with_the_same_id(api: httpx2.AsyncClient) -> None:
    assert (await api.post(CLIENTS, json={"addresses": []}, headers=rid("fix-me"))).status_code == 422
    assert (await api.post(CLIENTS, json=CLIENT, headers=rid("fix-me"))).status_code == 200
    assert (await api.post(CLIENTS, json=CLIENT, headers=rid("fix-me"))).status_code == 409


async def test_gets_with_a_request_id_are_not_blocked(api: httpx2.AsyncClient) -> None:
    assert (await api.get(CLIENTS, headers=rid("read"))).status_code == 200
    assert (await api.get(CLIENTS, headers=rid("read"))).status_code == 200


async def test_a_request_still_in_process_is_a_409(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    """The first request sleeps in its latency on the sandbox's held clock while the retry arrives."""
    state = sandbox_app.state.sandbox
    state.clock.hold()
    state.faults.add(match="accounting_create_client", kind="latency", latency=0.3)
    results: dict[str, httpx2.Response] = {}

    async def first() -> None:
        results["first"] = await api.post(CLIENTS, json=CLIENT, headers=rid("busy"))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await state.clock.sleepers(1)  # the first request is in process
            results["retry"] = await api.post(CLIENTS, json=CLIENT, headers=rid("busy"))
            assert "first" not in results
            state.advance_clock(0.3)
    assert results["first"].status_code == 200
    assert (
        results["retry"].status_code == 409 and results["retry"].json()["error_code"] == "REQUEST_IN_PROCESS"
    )
    assert state.stats()["created"] == {"accounting.clients": 1}


async def test_transaction_lookup_gives_the_outcome_and_created_id(api: httpx2.AsyncClient) -> None:
    created = (await api.post(CLIENTS, json=CLIENT, headers=rid("look-me-up"))).json()
    connection = await accounting_connection(api)
    found = await api.get(
        f"{BASE}/connections/{connection}/transactions", params={"client_request_id": "look-me-up"}
    )
    assert found.status_code == 200
    body = found.json()
    assert body["method"] == "POST" and body["route"] == CLIENTS and body["status_code"] == 200
    assert body["created_entity_id"] == created["id"] and body["created_on"].endswith("Z")


async def test_transaction_lookup_after_a_lost_answer(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    sandbox_app.state.sandbox.faults.add(match="accounting_create_client", kind="drop_after_processing")
    lost = await api.post(CLIENTS, json=CLIENT, headers=rid("lost"))
    assert lost.status_code == 502
    connection = await accounting_connection(api)
    found = (
        await api.get(f"{BASE}/connections/{connection}/transactions", params={"client_request_id": "lost"})
    ).json()
    assert found["status_code"] == 200 and found["created_entity_id"]
    fetched = await api.get(f"{CLIENTS}/{found['created_entity_id']}")
    assert fetched.status_code == 200 and fetched.json()["name"] == "Once BV"


async def test_transaction_lookup_misses(api: httpx2.AsyncClient) -> None:
    await api.post(CLIENTS, json=CLIENT, headers=rid("known"))
    connection = await accounting_connection(api)
    connections = (await api.get(f"{BASE}/connections")).json()
    pos = next(c["connectionid"] for c in connections if c["api"] == "Point of Sale")
    unknown = await api.get(
        f"{BASE}/connections/{connection}/transactions", params={"client_request_id": "nope"}
    )
    wrong_connection = await api.get(
        f"{BASE}/connections/{pos}/transactions", params={"client_request_id": "known"}
    )
    missing_param = await api.get(f"{BASE}/connections/{connection}/transactions")
    assert unknown.status_code == 404  # the spec's example, without a code
    assert unknown.json()["message"] == "The specified transaction could not be found"
    assert wrong_connection.status_code == 404
    assert missing_param.status_code == 422


async def test_transaction_lookup_is_never_stale(api: httpx2.AsyncClient) -> None:
    connection = await accounting_connection(api)
    lookup = f"{BASE}/connections/{connection}/transactions"
    assert (await api.get(lookup, params={"client_request_id": "later"})).status_code == 404
    await api.post(CLIENTS, json=CLIENT, headers=rid("later"))
    assert (await api.get(lookup, params={"client_request_id": "later"})).status_code == 200
