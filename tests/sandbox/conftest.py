"""Fixtures for the sandbox tests: an in-process app driven through httpx2's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette
from support.sandbox import CREDENTIALS, shared_spec

from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import build_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def chift_spec() -> Spec:
    return shared_spec()


@pytest.fixture
def sandbox_app(chift_spec: Spec) -> Starlette:
    return build_app(chift_spec)


@pytest.fixture
async def sandbox(sandbox_app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    """An unauthenticated client on the sandbox."""
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.fixture
async def api(sandbox: httpx2.AsyncClient) -> httpx2.AsyncClient:
    """The same client with a valid bearer token."""
    response = await sandbox.post("/token", json=CREDENTIALS)
    assert response.status_code == 200, response.text
    sandbox.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return sandbox
