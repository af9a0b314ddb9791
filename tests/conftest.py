"""Shared fixtures: a clean environment, the spec and the tools built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chift_mcp.factory import build_tools
from chift_mcp.operations import Operation, load_operations
from chift_mcp.spec import Spec, load_spec
from chift_mcp.toolspec import ToolSpec


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
