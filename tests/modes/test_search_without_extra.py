"""CHIFT_SEARCH=true on an install without the [search] extra (Chift's docs turn search on): the
server starts and serves every tool, and SearchChift says in one line what to install.

Runs in the README's environment (no extra: the real case) and, where the extra is installed, with
lancedb hidden from the import system."""

from __future__ import annotations

import importlib.util
import json

import anyio
import pytest
from mcp.client import Client

from chift_mcp.app import Runtime
from chift_mcp.modes.docs_search import search_service
from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def no_search_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lancedb" else real(name, *a)
    )


def test_the_service_says_what_to_install(no_search_extra: None) -> None:
    service = search_service(Settings())
    service.start()  # nothing to start: no thread, no import of the search stack
    assert service.state == "missing" and "lancedb" in service.missing
    error = service._unavailable()
    assert "[search] extra" in str(error) and "pip install 'chift-mcp[search]'" in (error.hint or "")
    assert error.retryable is False


async def test_server_starts_and_serves_every_tool(no_search_extra: None, tmp_path: object) -> None:
    runtime = Runtime.open(Settings(search=True, tool_mode="discovery"), sandbox=True)
    runtime.start()
    try:
        with anyio.fail_after(20):
            async with Client(runtime.server()) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                found = await client.call_tool("find_operations", {"query": "list the clients"})
                search = await client.call_tool("SearchChift", {"query": "how do I authenticate?"})
    finally:
        await runtime.aclose()
    assert {"SearchChift", "find_operations", "describe_operation", "call_operation"} <= names
    assert not found.is_error and "accounting_get_clients" in found.content[0].text
    assert search.is_error
    text = search.content[0].text
    assert "pip install 'chift-mcp[search]'" in text and "[search] extra" in text
    assert json.loads(text)["retryable"] is False
