"""POST /token and the bearer check on every other route."""

from __future__ import annotations

import time

import httpx2
import pytest
from starlette.applications import Starlette
from support.sandbox import CREDENTIALS

from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import DEMO_CONSUMER_ID, SandboxConfig, build_app

pytestmark = pytest.mark.anyio
CLIENTS = f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients"


async def test_token_is_issued_for_the_sandbox_credentials(
    sandbox: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    before = time.time()
    response = await sandbox.post("/token", json={**CREDENTIALS, "envId": None, "marketplaceId": None})
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 1800
    assert before + 1790 <= token["expires_on"] <= time.time() + 1801
    assert token["access_token"].count(".") == 2  # JWT-shaped
    assert sandbox_app.state.sandbox.stats()["tokens_issued"] == 1


@pytest.mark.parametrize("field", ["clientId", "clientSecret", "accountId"])
async def test_wrong_credentials_are_refused_with_401(sandbox: httpx2.AsyncClient, field: str) -> None:
    wrong = "00000000-0000-4000-a000-000000000000" if field == "accountId" else "nope"
    response = await sandbox.post("/token", json={**CREDENTIALS, field: wrong})
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["error_code"] == "ERROR_CHIFT_AUTHENTICATION_ERROR"
    assert "clientId" in body["message"]


async def test_a_token_request_without_fields_is_a_422(sandbox: httpx2.AsyncClient) -> None:
    response = await sandbox.post("/token", json={"clientId": "x"})
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "ERROR_INVALID_BODY"
    assert {tuple(d["loc"]) for d in body["detail"]} == {("body", "clientSecret"), ("body", "accountId")}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic abc", "Bearer not-a-token"],
)
async def test_routes_need_a_valid_bearer(sandbox: httpx2.AsyncClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await sandbox.get(CLIENTS, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "ERROR_CHIFT_AUTHENTICATION_ERROR"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_token_is_refused(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    assert (await api.get(CLIENTS)).status_code == 200
    sandbox_app.state.sandbox.advance_clock(1801)
    response = await api.get(CLIENTS)
    assert response.status_code == 401 and "expired" in response.json()["message"]


async def test_token_lifetime_comes_from_the_config(chift_spec: Spec) -> None:
    app = build_app(chift_spec, SandboxConfig(token_lifetime=60))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://s") as client:
        token = (await client.post("/token", json=CREDENTIALS)).json()
    assert token["expires_in"] == 60


async def test_revoking_tokens_makes_the_next_call_401(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    assert (await api.get(CLIENTS)).status_code == 200
    assert sandbox_app.state.sandbox.revoke_tokens() == 1
    assert (await api.get(CLIENTS)).status_code == 401
    # A new token works again and is counted.
    token = (await api.post("/token", json=CREDENTIALS)).json()["access_token"]
    assert (await api.get(CLIENTS, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert sandbox_app.state.sandbox.stats()["tokens_issued"] == 2


async def test_mcp_token_needs_a_known_consumer(sandbox: httpx2.AsyncClient) -> None:
    ok = await sandbox.post("/mcp-token", json={**CREDENTIALS, "consumerId": DEMO_CONSUMER_ID})
    unknown = await sandbox.post(
        "/mcp-token", json={**CREDENTIALS, "consumerId": "99999999-9999-4999-8999-999999999999"}
    )
    assert ok.status_code == 200 and ok.json()["access_token"]
    assert unknown.status_code == 404
