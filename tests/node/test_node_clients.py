"""Real Node MCP clients against chift-mcp, over stdio and streamable HTTP: the TypeScript SDK
(``@modelcontextprotocol/sdk``) and the Vercel AI SDK (``@ai-sdk/mcp``), pinned in package.json here
and installed by ``.ci/run`` (``npm ci``). Each run is ``node drive.mjs CLIENT TRANSPORT TARGET``: it
connects, lists the tools, calls ``accounting_get_clients`` on the sandbox and prints one JSON line.

Skipped, with the reason, without ``node``/``npm`` or without the installed packages. Marked slow:
each run starts real processes (the server takes 1-3 s to start over stdio, which is what makes the
AI SDK's 1 s ``server/discover`` probe time out and fall back to ``initialize`` on the same pipe)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.http import HttpServerProcess

HERE = Path(__file__).resolve().parent
PACKAGES = ("@modelcontextprotocol/sdk", "@ai-sdk/mcp", "mcp-remote")
TOKEN = "cmcp_node_clients_token_00000000000000"
CLIENTS = ("ts-sdk", "ai-sdk")

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed: the Node clients cannot run"
    for package in PACKAGES:
        if not (HERE / "node_modules" / package / "package.json").is_file():
            return f"{package} is not installed: run `npm ci` in tests/node (.ci/run does)"
    return None


if (reason := _missing()) is not None:
    pytest.skip(reason, allow_module_level=True)


def drive(
    client: str, transport: str, target: str, token: str | None = None, *, home: Path | None = None
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    if home is not None:  # mcp-remote keeps its OAuth state in ~/.mcp-auth
        env["HOME"] = str(home)
    argv = ["node", str(HERE / "drive.mjs"), client, transport, target, *([token] if token else [])]
    done = subprocess.run(argv, cwd=HERE, env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return dict(json.loads(lines[-1]))


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = HttpServerProcess(
        {"CHIFT_MCP_TOKEN": TOKEN}, "--sandbox", "http", log_dir=tmp_path_factory.mktemp("http")
    )
    try:
        server.wait_ready()
        yield server.url + "/mcp"
    finally:
        server.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_node_client_over_stdio_lists_and_calls(client: str) -> None:
    command = json.dumps([sys.executable, "-m", "chift_mcp", "--sandbox"])
    out = drive(client, "stdio", command)
    assert out["ok"], out
    assert out["tools"] > 100 and out["items"] == 2, out


def test_ai_sdk_over_stdio_when_the_server_starts_slowly_as_through_uvx() -> None:
    """uvx takes about 4 s to its first answer: the AI SDK's server/discover times out after 1 s and
    it sends initialize on the same pipe. Both wait for the server, which serves the initialize."""
    server = f"sleep 2; exec {sys.executable} -m chift_mcp --sandbox"
    out = drive("ai-sdk", "stdio", json.dumps(["sh", "-c", server]))
    assert out["ok"], out
    assert out["items"] == 2 and out["protocol"] == "2025-11-25" and out["ms"]["connected"] > 2000, out


@pytest.mark.parametrize("client", CLIENTS)
def test_node_client_over_http_lists_and_calls(client: str, http_url: str) -> None:
    out = drive(client, "http", http_url, TOKEN)
    assert out["ok"], out
    assert out["tools"] > 100 and out["items"] == 2, out


@pytest.mark.parametrize("client", CLIENTS)
def test_node_client_shows_why_a_wrong_token_is_refused(client: str, http_url: str) -> None:
    out = drive(client, "http", http_url, "cmcp_wrong_token_000000000000000000")
    assert not out["ok"] and "401 Unauthorized: unknown token" in out["error"], out


def mcp_remote(url: str, token: str) -> str:
    """Claude Desktop's remote snippet in Chift's docs: the TypeScript SDK's stdio client (as Claude
    Desktop is) running ``mcp-remote URL --transport http-only --header Authorization:...``."""
    command = [str(HERE / "node_modules" / ".bin" / "mcp-remote"), url, "--transport", "http-only"]
    return json.dumps([*command, "--header", f"Authorization:Bearer {token}"])


def test_mcp_remote_bridges_stdio_to_the_http_door(http_url: str, tmp_path: Path) -> None:
    out = drive("ts-sdk", "stdio", mcp_remote(http_url, TOKEN), home=tmp_path)
    assert out["ok"], out
    assert out["tools"] > 100 and out["items"] == 2, out


def test_mcp_remote_on_a_wrong_token_starts_oauth_and_gives_up(http_url: str, tmp_path: Path) -> None:
    """On a 401 mcp-remote discovers OAuth, tries to register a client, and dies: this door takes
    bearer tokens only (docs/clients.md says what to check)."""
    out = drive("ts-sdk", "stdio", mcp_remote(http_url, "cmcp_wrong_token_000000000000000000"), home=tmp_path)
    assert not out["ok"], out
