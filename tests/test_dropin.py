"""What users of the official ``chift-mcp-server`` rely on, through the protocol: its command, its
variables (CHIFT_SERVER_NAME honoured, CHIFT_PROXY_URL answered), a 401 an MCP client can show,
capabilities that hold on every HTTP mode. The stdio eras and EOF: tests/doors/test_stdio_door.py;
real Node clients: tests/node/."""

from __future__ import annotations

import json
import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from support import TIMEOUT
from support.http import asgi_client, door, mcp_client, serving
from support.inproc import mcp_session

from chift_mcp.cli import _say_what_replaces_the_proxy
from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio
TOKEN = "cmcp_dropin_token_000000000000000000000"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def answer(response: Any) -> dict[str, Any]:
    """The JSON-RPC answer of a POST, whether the door sent JSON or an SSE stream."""
    text = response.text
    if text.startswith("{"):
        return dict(json.loads(text))
    events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return dict(json.loads(next(e for e in events if e.startswith("{"))))


def test_both_commands_are_installed_the_official_one_included() -> None:
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("chift-mcp") == scripts.get("chift-mcp-server") == "chift_mcp.cli:console"


async def test_chift_server_name_is_the_name_in_the_handshake() -> None:
    with anyio.fail_after(TIMEOUT):
        async with mcp_session(server_name="Chift MCP Server") as s:
            legacy = s.client.session.initialize_result  # type: ignore[union-attr]
    assert legacy is not None and legacy.server_info.name == "Chift MCP Server"


async def test_chift_server_name_over_http() -> None:
    d = door(tokens={TOKEN: {"name": "t"}}, settings={"server_name": "Chift MCP Server"})
    async with asgi_client(d.app) as http:
        opened = await http.post("/mcp", json=INIT, headers={**JSON, "Authorization": f"Bearer {TOKEN}"})
    assert opened.status_code == 200, opened.text
    assert answer(opened)["result"]["serverInfo"]["name"] == "Chift MCP Server"


def test_chift_proxy_url_is_answered_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chift_mcp.cli"):
        _say_what_replaces_the_proxy(Settings())
        assert caplog.records == []
        _say_what_replaces_the_proxy(Settings(proxy_url="https://docs.chift.eu/mcp"))
    (record,) = caplog.records
    assert "CHIFT_PROXY_URL is ignored" in record.message and "CHIFT_SEARCH=true" in record.message


# ------------------------------------------------------------------ a 401 an MCP client can show


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_wrong_token_shows_its_reason_in_the_mcp_client(mode: str) -> None:
    """mcp 2.x clients (pydantic-ai 2.x, fastmcp 4) show a non-2xx body's JSON-RPC error; before,
    the OAuth-style body gave them only "-32603 Server returned an error response"."""
    d = door(tokens={TOKEN: {"name": "t"}})
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            with pytest.RaisesGroup(
                pytest.RaisesExc(MCPError, match="^401 Unauthorized: unknown token"),
                flatten_subgroups=True,
                allow_unwrapped=True,
            ) as raised:
                async with mcp_client(base + "/mcp", "cmcp_wrong_token_00000000000000000", mode=mode) as c:
                    await c.list_tools()
    error: Any = raised.value
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert error.error.code == -32600 and error.error.data["status"] == 401
    assert error.error.data["error"] == "invalid_token"


async def test_the_401_keeps_rfc_6750_s_challenge() -> None:
    d = door(tokens={TOKEN: {"name": "t"}})
    async with asgi_client(d.app) as http:
        wrong = await http.post(
            "/mcp", json=INIT, headers={**JSON, "Authorization": "Bearer cmcp_nope_0000000000000000"}
        )
        missing = await http.post("/mcp", json=INIT, headers=JSON)
    assert wrong.status_code == missing.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer realm="chift-mcp", error="invalid_token"'
    assert missing.headers["www-authenticate"] == 'Bearer realm="chift-mcp"'
    body = wrong.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None and "unknown token" in body["error"]["message"]
    assert missing.json()["error"]["data"]["error"] == "unauthorized"


# ------------------------------------------------------------------ capabilities that hold


@pytest.mark.parametrize(
    ("options", "list_changed"),
    [
        ({}, True),
        ({"json_response": True}, True),  # the session's GET stream carries it
        ({"stateless": True}, False),  # no session: nothing can carry it to an initialize client
        ({"stateless": True, "json_response": True}, False),
    ],
)
async def test_tools_list_changed_is_advertised_only_where_it_can_reach_the_client(
    options: dict[str, Any], list_changed: bool
) -> None:
    d = door(tokens={TOKEN: {"name": "t"}}, **options)
    async with asgi_client(d.app) as http:
        opened = await http.post("/mcp", json=INIT, headers={**JSON, "Authorization": f"Bearer {TOKEN}"})
    assert opened.status_code == 200, opened.text
    tools = answer(opened)["result"]["capabilities"]["tools"]
    assert tools.get("listChanged", False) is list_changed, (options, tools)


# ------------------------------------------------------------------ the official default tool set

# The official server's default function config: every domain of its CONNECTION_TYPES × these kinds
# (chift-mcp-server 0.2.5, constants.py; /work/notes research §N rule 56), and its filters (rules 57-58).
OFFICIAL_DOMAINS = {"accounting", "pos", "ecommerce", "invoicing", "banking", "payment", "pms", "custom"}
OFFICIAL_KINDS = {"get", "create", "update", "add"}
OFFICIAL_SKIPPED_PATHS = ("/syncs", "/integrations", "/webhooks", "/datastores", "/issues", "/datastore")
# What docs/clients.md tells a migrating user to set for exactly the official default set.
OFFICIAL_FUNCTION_CONFIG = (
    '{"accounting": ["get", "create", "update"], "invoicing": ["get", "create", "update"], '
    '"pos": ["get", "create", "update"], "ecommerce": ["get", "create", "update"], '
    '"pms": ["get", "create", "update"], "payment": ["get", "create", "update"], '
    '"banking": ["get", "create", "update"], "consumers": ["get"], "connections": ["get"]}'
)
OFFICIAL_EXCLUDE_TOOLS = (
    "accounting_export_fec,accounting_match_entries,accounting_match_entries_multiple,"
    "connections_get_transactions,invoicing_post_contacts,invoicing_post_invoices,"
    "invoicing_post_products,invoicing_upload_document"
)


def official_default_tools() -> set[str]:
    """The tools the official server lists by default without a consumer id, from the bundled spec
    (FastMCP's name: the operationId cut at its first "__", slugified, 56 characters at most)."""
    import re

    from chift_mcp.openapi.spec import load_spec

    names = set()
    for path, item in load_spec(None).paths.items():
        if not path.startswith("/consumers") or any(s in path for s in OFFICIAL_SKIPPED_PATHS):
            continue
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            name = re.sub(r"[^a-zA-Z0-9_]+", "_", operation["operationId"].split("__")[0])[:56]
            parts = name.split("_")
            if len(parts) >= 3 and (
                (parts[0] in OFFICIAL_DOMAINS and parts[1] in OFFICIAL_KINDS)
                or (parts[0] in ("consumers", "connections") and parts[1] == "get")
            ):
                names.add(name)
    return names


async def listed(**settings: Any) -> list[Any]:
    from chift_mcp.app import Runtime

    runtime = Runtime.open(Settings(**settings), offline=True)
    try:
        return list(runtime.registry.view(await runtime.access.current()).tools)
    finally:
        await runtime.aclose()


async def test_the_migration_section_s_numbers_and_config_are_the_computed_ones() -> None:
    official = official_default_tools()
    ours = {t.name: t for t in await listed()}
    extra = [ours[n] for n in sorted(set(ours) - official)]
    writes = [t.name for t in extra if t.kind != "get"]
    assert official <= set(ours)  # every official tool, under its own name
    narrowed = {
        t.name
        for t in await listed(function_config=OFFICIAL_FUNCTION_CONFIG, exclude_tools=OFFICIAL_EXCLUDE_TOOLS)
    }
    assert narrowed == official
    page = (Path(__file__).resolve().parents[1] / "docs" / "clients.md").read_text(encoding="utf-8")
    said = f"{len(ours)} tools where the official default lists {len(official)}: {len(extra)} more, {len(writes)} of them writes"
    assert said in page, said
    for name in writes:
        assert f"`{name}`" in page, name
    flat = " ".join(page.split())
    assert OFFICIAL_EXCLUDE_TOOLS in flat and OFFICIAL_FUNCTION_CONFIG.replace('"', '\\"') in flat
