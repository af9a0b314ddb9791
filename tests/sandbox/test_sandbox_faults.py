"""Scripted faults, from Python and over HTTP."""

from __future__ import annotations

import json
import time

import httpx2
import pytest
from starlette.applications import Starlette

from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import DEMO_CONSUMER_ID, Fault, FaultError, SandboxConfig, build_app

pytestmark = pytest.mark.anyio
BASE = f"/consumers/{DEMO_CONSUMER_ID}"
CLIENTS = f"{BASE}/accounting/clients"


async def test_latency_fault_delays_matching_calls_only(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    sandbox_app.state.sandbox.faults.add(match="accounting_get_clients", kind="latency", latency=0.15)
    started = time.monotonic()
    assert (await api.get(f"{BASE}/accounting/suppliers")).status_code == 200
    assert time.monotonic() - started < 0.15
    started = time.monotonic()
    assert (await api.get(CLIENTS)).status_code == 200
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    await api.get(CLIENTS)
    assert time.monotonic() - started < 0.15  # times=1 by default


async def test_status_fault_with_retry_after(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    sandbox_app.state.sandbox.faults.add(
        match="accounting_get_clients", kind="status", status=429, retry_after=2
    )
    limited = await api.get(CLIENTS)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json()["error_code"] == "ERROR_RATE_LIMIT" and limited.json()["status"] == "error"
    assert (await api.get(CLIENTS)).status_code == 200


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ERROR_INTERNAL_ERROR"),
        (502, "ERROR_CONFIGURATION_LOCALAGENT"),
        (503, "ERROR_CONNECTOR_MAINTENANCE"),
        (504, "ERROR_GATEWAY_TIMEOUT"),
    ],
)
async def test_status_faults_use_chift_codes(
    api: httpx2.AsyncClient, sandbox_app: Starlette, status: int, code: str
) -> None:
    sandbox_app.state.sandbox.faults.add(
        match="GET /consumers/*/accounting/clients", kind="status", status=status
    )
    response = await api.get(CLIENTS)
    assert response.status_code == status and response.json()["error_code"] == code


async def test_times_counts_hits_and_zero_means_forever(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    faults = sandbox_app.state.sandbox.faults
    faults.add(match="accounting_get_clients", kind="status", status=503, times=2)
    assert [(await api.get(CLIENTS)).status_code for _ in range(3)] == [503, 503, 200]
    faults.add(match="accounting_*", kind="status", status=503, times=0)
    assert [(await api.get(CLIENTS)).status_code for _ in range(4)] == [503] * 4
    faults.clear()
    assert (await api.get(CLIENTS)).status_code == 200


async def test_match_by_template_and_method(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    faults = sandbox_app.state.sandbox.faults
    faults.add(match="POST /consumers/{consumer_id}/accounting/clients", kind="status", status=500)
    assert (await api.get(CLIENTS)).status_code == 200
    assert (await api.post(CLIENTS, json={"name": "X", "addresses": []})).status_code == 500
    assert sandbox_app.state.sandbox.created == {}


async def test_malformed_json(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    sandbox_app.state.sandbox.faults.add(match="accounting_get_clients", kind="malformed_json")
    response = await api.get(CLIENTS)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert (await api.get(CLIENTS)).json()["items"]


async def test_drop_after_processing_creates_then_fails(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    state = sandbox_app.state.sandbox
    state.faults.add(
        match="accounting_create_client", kind="drop_after_processing", status=503, retry_after=1
    )
    fresh = {"x-chift-force-refresh": "true"}  # past Chift's GET cache
    before = (await api.get(CLIENTS, params={"size": 1})).json()["total"]
    headers = {"X-Chift-Client-RequestId": "lost-1"}
    lost = await api.post(CLIENTS, json={"name": "Lost Answer BV", "addresses": []}, headers=headers)
    assert lost.status_code == 503 and lost.headers["retry-after"] == "1"
    assert (await api.get(CLIENTS, params={"size": 1}, headers=fresh)).json()["total"] == before + 1
    assert state.log[-2]["processed"] is True and state.log[-2]["fault"] == "drop_after_processing"

    retry = await api.post(CLIENTS, json={"name": "Lost Answer BV", "addresses": []}, headers=headers)
    assert retry.status_code == 409 and retry.json()["error_code"] == "REQUEST_ALREADY_PROCESSED"
    assert (await api.get(CLIENTS, params={"size": 1}, headers=fresh)).json()["total"] == before + 1
    assert state.stats()["created"] == {"accounting.clients": 1}


def test_invalid_faults_are_refused() -> None:
    for bad in (
        {"kind": "status"},
        {"match": "x", "kind": "explode"},
        {"match": "x", "kind": "status", "status": 200},
        {"match": "x", "kind": "latency"},
        {"match": "x", "times": -1},
        {"match": "x", "colour": "red"},
    ):
        with pytest.raises(FaultError):
            Fault.from_json(bad)


async def test_faults_over_http(api: httpx2.AsyncClient) -> None:
    added = await api.post(
        "/_sandbox/faults",
        json={"match": "accounting_get_clients", "kind": "status", "status": 502, "times": 0},
    )
    assert added.status_code == 201 and added.json()["status"] == 502 and added.json()["id"]
    listed = (await api.get("/_sandbox/faults")).json()
    assert [f["match"] for f in listed] == ["accounting_get_clients"]
    assert (await api.get(CLIENTS)).status_code == 502
    assert (await api.get("/_sandbox/faults")).json()[0]["hits"] == 1
    assert (await api.delete("/_sandbox/faults")).json() == {"cleared": 1}
    assert (await api.get(CLIENTS)).status_code == 200
    bad = await api.post("/_sandbox/faults", json={"match": "x", "kind": "nope"})
    assert bad.status_code == 422 and bad.json()["error_code"] == "ERROR_INVALID_BODY"
    not_json = await api.post("/_sandbox/faults", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


async def test_token_endpoint_can_fail_too(sandbox: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    from support.sandbox import CREDENTIALS

    sandbox_app.state.sandbox.faults.add(match="POST /token", kind="status", status=503)
    assert (await sandbox.post("/token", json=CREDENTIALS)).status_code == 503
    assert (await sandbox.post("/token", json=CREDENTIALS)).status_code == 200


async def test_default_latency_from_config(chift_spec: Spec) -> None:
    from support.sandbox import CREDENTIALS

    app = build_app(chift_spec, SandboxConfig(latency=0.05))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://s") as client:
        started = time.monotonic()
        await client.post("/token", json=CREDENTIALS)
        assert time.monotonic() - started >= 0.05
