"""Shared fixtures: a clean environment, the spec and the tools built once per session, and an MCP
client session in memory to a server over the in-process sandbox (helpers: tests/support/)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from support import TIMEOUT
from support.inproc import Session, mcp_session

from chift_mcp.openapi.operations import Operation, load_operations
from chift_mcp.openapi.spec import Spec, load_spec
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.factory import build_tools


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The developer's shell and .env never leak into tests."""
    for key in list(os.environ):
        if key.startswith("CHIFT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec()


@pytest.fixture(scope="session")
def operations(spec: Spec) -> list[Operation]:
    return load_operations(spec)


@pytest.fixture(scope="session")
def tools(operations: list[Operation]) -> list[ToolSpec]:
    return build_tools(operations)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def mcp() -> AsyncIterator[Session]:
    """A client session to a server with the default settings (unbound) over a fresh sandbox; for
    other settings, ``async with support.inproc.mcp_session(**settings)`` in the test."""
    with anyio.fail_after(TIMEOUT):
        async with mcp_session() as session:
            yield session
