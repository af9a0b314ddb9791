"""End to end: the real `chift-mcp` process over stdio, driven by the MCP SDK's client, against the
sandbox Chift API running as a real HTTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from integration_helpers import SandboxAdmin, running_sandbox, server_env, stdio_params
from mcp.client import Client

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_ONLY = "22222222-2222-4222-8222-222222222222"
TIMEOUT = 30


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture
def admin(sandbox_url: str) -> Iterator[SandboxAdmin]:
    admin = SandboxAdmin(sandbox_url)
    admin.reset()
    yield admin
    admin.clear()
    admin.close()


def payload(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def test_lists_tools_with_consumer_id_when_unbound(sandbox_url: str) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    assert {
        "accounting_get_clients",
        "pos_get_orders",
        "consumers_get_consumers",
        "connections_get_connections",
    } <= names
    assert not any(n.startswith(("syncs_", "webhooks_", "datastores_")) for n in names)
    clients = next(t for t in tools if t.name == "accounting_get_clients")
    assert "consumer_id" in clients.input_schema["properties"]
    assert clients.annotations is not None and clients.annotations.read_only_hint is True


async def test_bound_consumer_hides_consumer_id_and_keeps_its_active_domains(sandbox_url: str) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(
            stdio_params(sandbox_url, CHIFT_CONSUMER_ID=ACCOUNTING_ONLY), mode="legacy"
        ) as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("accounting_get_clients", {"limit": 3})
            refused = await client.call_tool("pos_get_orders", {})
    domains = {t.name.split("_")[0] for t in tools}
    assert "accounting" in domains and not domains & {
        "pos",
        "ecommerce",
        "invoicing",
        "pms",
        "payment",
        "banking",
    }
    assert all("consumer_id" not in t.input_schema.get("properties", {}) for t in tools)
    assert "consumers_get_consumers" not in {t.name for t in tools}
    assert not result.is_error and len(payload(result)["items"]) == 3
    assert refused.is_error and "no active pos connection" in payload(refused)["message"]


async def test_calls_read_and_create_then_read_back(sandbox_url: str, admin: SandboxAdmin) -> None:
    address = {
        "address_type": "main",
        "street": "Rue Haute 1",
        "city": "Brussels",
        "postal_code": "1000",
        "country": "BE",
    }
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            listed = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 120})
            created = await client.call_tool(
                "accounting_create_client", {"consumer_id": DEMO, "name": "ACME SA", "addresses": [address]}
            )
            client_id = payload(created)["id"]
            fetched = await client.call_tool(
                "accounting_get_client", {"consumer_id": DEMO, "client_id": client_id}
            )
    data = payload(listed)
    assert not listed.is_error
    if data.get("truncated"):  # 120 clients are longer than the result cap: cut at an item boundary
        assert data["next_offset"] == len(data["items"]) < 120 and len(listed.content[0].text) <= 40_000
    else:
        assert len(data["items"]) == min(120, data["total"])
    assert listed.structured_content == data
    assert not created.is_error, created.content[0].text
    assert not fetched.is_error and payload(fetched)["name"] == "ACME SA"


@pytest.mark.parametrize(
    ("fault", "expect_ok"),
    [
        ({"kind": "status", "status": 429, "retry_after": 1, "times": 1}, True),
        ({"kind": "status", "status": 503, "times": 2}, True),
        ({"kind": "status", "status": 502, "times": 1}, True),
        ({"kind": "latency", "latency": 0.3, "times": 1}, True),
        ({"kind": "status", "status": 500, "times": 1}, False),
        ({"kind": "malformed_json", "times": 1}, False),
    ],
)
async def test_faults_are_retried_or_reported_without_crashing(
    sandbox_url: str, admin: SandboxAdmin, fault: dict[str, Any], expect_ok: bool
) -> None:
    admin.fault(match="accounting_get_clients", **fault)
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 5})
            after = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 5})
    assert result.is_error is (not expect_ok), result.content[0].text
    if not expect_ok:
        error = payload(result)
        assert error["message"] and error["retryable"] is True
    assert not after.is_error  # the server is still healthy


async def test_token_revocation_is_recovered_with_one_refresh(sandbox_url: str, admin: SandboxAdmin) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            first = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
            before = admin.stats()
            admin.revoke()
            second = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
            after = admin.stats()
    assert not first.is_error and not second.is_error
    assert after["tokens_issued"] == before["tokens_issued"] + 1


async def test_slow_upstream_times_out_with_a_clear_error(sandbox_url: str, admin: SandboxAdmin) -> None:
    admin.fault(match="accounting_get_clients", kind="latency", latency=3, times=0)
    params = stdio_params(sandbox_url, CHIFT_TIMEOUT="0.5", CHIFT_MAX_RETRIES="1", CHIFT_RETRY_BUDGET="1")
    with anyio.fail_after(TIMEOUT):
        async with Client(params, mode="legacy") as client:
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    error = payload(result)
    assert result.is_error and error["error"] == "CHIFT_UNREACHABLE" and "timed out" in error["message"]
    assert sandbox_url in error["message"] and error["retryable"] is True


async def test_a_create_whose_answer_is_lost_is_never_booked_twice(
    sandbox_url: str, admin: SandboxAdmin
) -> None:
    admin.fault(match="accounting_create_client", kind="drop_after_processing", status=503, times=1)
    address = {
        "address_type": "main",
        "street": "Rue Haute 1",
        "city": "Brussels",
        "postal_code": "1000",
        "country": "BE",
    }
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            result = await client.call_tool(
                "accounting_create_client",
                {"consumer_id": DEMO, "name": "Once Only BV", "addresses": [address]},
            )
    posts = [
        r
        for r in admin.requests()
        if r["method"] == "POST" and r.get("operation_id") == "accounting_create_client"
    ]
    assert len(posts) == 2 and len({r["client_request_id"] for r in posts}) == 1  # one retry, same id
    assert sum(1 for r in posts if r.get("processed")) == 1
    error = payload(result)
    assert result.is_error and error["error"] == "REQUEST_ALREADY_PROCESSED"
    assert "not resend" in error["hint"].lower() or "do not" in error["hint"].lower()


async def test_bad_arguments_are_refused_before_any_request(sandbox_url: str, admin: SandboxAdmin) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            result = await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": "many"})
    assert result.is_error and payload(result)["field"] == "limit"
    assert not [r for r in admin.requests() if "/accounting/" in r["path"]]


async def test_prompt_walks_through_choosing_a_consumer(sandbox_url: str) -> None:
    with anyio.fail_after(TIMEOUT):
        async with Client(stdio_params(sandbox_url), mode="legacy") as client:
            prompts = (await client.list_prompts()).prompts
            prompt = await client.get_prompt("choose_consumer", {"consumer": "Demo"})
    assert [p.name for p in prompts] == ["choose_consumer", "reconcile_invoices", "month_end_check"]
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "consumers_get_consumers" in text and "connections_get_connections" in text


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


POS_INTEGRATION = 2004  # the sandbox's Lightspeed (Point of Sale)


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_a_new_connection_of_the_bound_consumer_is_announced_as_a_tool_list_change(
    sandbox_url: str, admin: SandboxAdmin, era: str
) -> None:
    import mcp_types as types

    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    params = stdio_params(sandbox_url, CHIFT_CONSUMER_ID=ACCOUNTING_ONLY, CHIFT_CONNECTIONS_TTL="0.2")
    with anyio.fail_after(TIMEOUT):
        async with Client(params, mode=era, message_handler=on_message) as client:  # type: ignore[arg-type]
            before = {t.name for t in (await client.list_tools()).tools}
            assert not any(n.startswith("pos_") for n in before)
            admin.connect(ACCOUNTING_ONLY, POS_INTEGRATION, "Lightspeed (shop)")
            await anyio.sleep(0.3)  # past the TTL: the next request refreshes in the background
            if era == "legacy":
                caps = client.session.initialize_result.capabilities  # type: ignore[union-attr]
                assert caps.tools is not None and caps.tools.list_changed is True
                await client.call_tool("accounting_get_clients", {"limit": 1})
                await changed.wait()
            else:
                async with client.listen(tools_list_changed=True) as subscription:
                    await client.call_tool("accounting_get_clients", {"limit": 1})
                    async for event in subscription:
                        assert type(event).__name__ == "ToolsListChanged"
                        break
            after = {t.name for t in (await client.list_tools()).tools}
    assert "pos_get_orders" in after and before < after
