"""The /_sandbox admin endpoints (used by tests that run the sandbox in another process)."""

from __future__ import annotations

import json

import httpx2
import pytest
from support.sandbox import CREDENTIALS

from chift_mcp.sandbox import DEMO_CONSUMER_ID

pytestmark = pytest.mark.anyio
CLIENTS = f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients"


async def test_request_log_records_calls_without_tokens(api: httpx2.AsyncClient) -> None:
    token = api.headers["Authorization"].split()[1]
    await api.get(CLIENTS, params={"size": 2})
    await api.post(
        CLIENTS, json={"name": "Logged", "addresses": []}, headers={"X-Chift-Client-RequestId": "r-1"}
    )
    await api.get(CLIENTS, headers={"Authorization": "Bearer wrong"})
    log = (await api.get("/_sandbox/requests")).json()
    assert [(e["method"], e["status"]) for e in log] == [
        ("POST", 200),
        ("GET", 200),
        ("POST", 200),
        ("GET", 401),
    ]
    token_call, listed, created, refused = log
    assert token_call["operation_id"] == "generate_access_token_token_post"
    assert listed["operation_id"] == "accounting_get_clients" and listed["query"] == "size=2"
    assert listed["consumer_id"] == DEMO_CONSUMER_ID and listed["processed"] is True
    assert created["client_request_id"] == "r-1" and created["processed"] is True
    assert refused["processed"] is False
    dumped = json.dumps(log)
    assert token not in dumped and "wrong" not in dumped and CREDENTIALS["clientSecret"] not in dumped
    only = (await api.get("/_sandbox/requests", params={"operation_id": "accounting_create_client"})).json()
    assert [e["client_request_id"] for e in only] == ["r-1"]
    assert len((await api.get("/_sandbox/requests", params={"limit": "1"})).json()) == 1


async def test_stats_count_tokens_requests_and_writes(api: httpx2.AsyncClient) -> None:
    await api.post(CLIENTS, json={"name": "A", "addresses": []})
    await api.post(CLIENTS, json={"name": "B", "addresses": []})
    stats = (await api.get("/_sandbox/stats")).json()
    assert stats["tokens_issued"] == 1 and stats["tokens_active"] == 1
    assert stats["requests"] == 3 and stats["by_status"] == {"200": 3}
    assert stats["processed_writes"] == {"accounting_create_client": 2}
    assert stats["created"] == {"accounting.clients": 2}
    assert stats["by_operation"]["accounting_create_client"] == 2


async def test_revoke_over_http(api: httpx2.AsyncClient) -> None:
    assert (await api.post("/_sandbox/revoke")).json() == {"revoked": 1}
    assert (await api.get(CLIENTS)).status_code == 401


async def test_reset_restores_the_start(api: httpx2.AsyncClient) -> None:
    created = (await api.post(CLIENTS, json={"name": "Gone", "addresses": []})).json()
    await api.post("/_sandbox/faults", json={"match": "*", "kind": "status", "status": 503, "times": 0})
    await api.delete(f"/consumers/{DEMO_CONSUMER_ID}")
    assert (await api.post("/_sandbox/reset")).json() == {"status": "ok"}
    assert (
        await api.get(f"{CLIENTS}/{created['id']}")
    ).status_code == 404  # token still valid, consumer back
    stats = (await api.get("/_sandbox/stats")).json()
    assert stats["tokens_issued"] == 0 and stats["requests"] == 1 and stats["faults_pending"] == 0


async def test_clock_transactions_and_health(api: httpx2.AsyncClient) -> None:
    await api.post(CLIENTS, json={"name": "T", "addresses": []}, headers={"X-Chift-Client-RequestId": "t-1"})
    transactions = (await api.get("/_sandbox/transactions")).json()
    assert [(t["client_request_id"], t["status_code"], t["processed"]) for t in transactions] == [
        ("t-1", 200, True)
    ]
    assert (await api.get("/_sandbox/health")).json()["status"] == "ok"
    assert (await api.post("/_sandbox/clock", json={"advance": 3600})).status_code == 200
    assert (await api.get(CLIENTS)).status_code == 401  # the token expired
    assert (await api.post("/_sandbox/clock", json={})).status_code == 422
