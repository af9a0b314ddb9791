"""The real ``chift-mcp`` process over stdio: smoke tests of the door itself (start-up refusal,
stdout carrying only JSON-RPC, one session's call through the SDK's client to the sandbox Chift API
running as its own process on loopback, the ``--sandbox`` flag). What the server does through the
protocol (scopes, faults, validation, list_changed) is tested in memory: test_server.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp.client import Client
from support import DEMO, TIMEOUT, payload
from support.processes import SandboxAdmin, running_sandbox, server_env, stdio_params

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


async def test_a_session_over_stdio_lists_tools_and_calls_one(sandbox_url: str) -> None:
    admin = SandboxAdmin(sandbox_url)
    admin.reset()
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 2})
    sent = [r for r in admin.requests() if r.get("operation_id") == "accounting_get_clients"]
    admin.close()
    clients = next(t for t in tools if t.name == "accounting_get_clients")
    assert "consumer_id" in clients.input_schema["properties"]
    assert not result.is_error and len(payload(result)["items"]) == 2
    assert [(r["consumer_id"], r["status"]) for r in sent] == [(DEMO, 200)]  # over HTTP, to that sandbox


def test_stdout_carries_only_protocol_messages(sandbox_url: str) -> None:
    """Raw JSON-RPC over the pipe: every line the server writes to stdout is a JSON-RPC message."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 2}},
        },
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope", "arguments": {}}},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "chift_mcp", "-vv"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(sandbox_url),
    )
    assert proc.stdin and proc.stdout
    answers: list[dict[str, Any]] = []
    for message in messages:
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        if "id" in message:
            line = proc.stdout.readline()  # every stdout line must parse as a JSON-RPC message
            answers.append(json.loads(line))
    stdout_rest, stderr = proc.communicate(timeout=TIMEOUT)  # closes stdin: the server exits
    assert stdout_rest.strip() == ""
    assert all(a.get("jsonrpc") == "2.0" for a in answers)
    assert [a.get("id") for a in answers] == [1, 2, 3, 4]
    call = answers[2]["result"]
    assert call.get("isError") is not True and len(json.loads(call["content"][0]["text"])["items"]) == 2
    assert answers[3]["error"]["code"] == -32602  # an unknown tool is a protocol error
    assert "chift_mcp" in stderr  # -vv logs went to stderr
    assert "sandbox-secret" not in stderr and all("sandbox-secret" not in json.dumps(a) for a in answers)


def test_missing_credentials_exit_2_with_one_line() -> None:
    env = {
        k: v
        for k, v in server_env("http://127.0.0.1:9").items()
        if k not in ("CHIFT_CLIENT_ID", "CHIFT_CLIENT_SECRET")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "chift_mcp"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CHIFT_CLIENT_ID" in lines[0] and "CHIFT_CLIENT_SECRET" in lines[0]
    assert "CHIFT_ACCOUNT_ID" not in lines[0] and "Traceback" not in proc.stderr


def test_sandbox_flag_works_without_an_account() -> None:
    env = {k: v for k, v in server_env("http://127.0.0.1:9").items() if not k.startswith("CHIFT_")}
    tools = subprocess.run(
        [sys.executable, "-m", "chift_mcp", "--sandbox", "tools"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert tools.returncode == 0 and "accounting_get_clients" in tools.stdout
    call = subprocess.run(
        [
            sys.executable,
            "-m",
            "chift_mcp",
            "--sandbox",
            "call",
            "accounting_get_clients",
            "--args",
            json.dumps({"consumer_id": DEMO, "limit": 2}),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert call.returncode == 0, call.stderr
    assert len(json.loads(call.stdout)["items"]) == 2
