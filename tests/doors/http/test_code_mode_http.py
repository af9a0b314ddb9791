"""A token entry's tool_mode: an HTTP caller of a tools-mode server gets code mode, within its grant."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from support.http import ACCOUNTING_ONLY, DEMO, TIMEOUT, door, mcp_client, payload, serving

from chift_mcp.doors.http.tokens import hash_token, parse_entry
from chift_mcp.errors import ConfigError

pytest.importorskip("pydantic_monty")
pytestmark = pytest.mark.anyio

CODER = "cmcp_code_mode_reader_00000000000000000"
ADMIN = "cmcp_admin_token_000000000000000000000000"
TOKENS: dict[str, dict[str, Any]] = {
    CODER: {"name": "coder", "tool_mode": "code", "read_only": True, "consumer_id": DEMO},
    ADMIN: {"name": "admin"},
}
PROGRAM = f"""
clients = accounting_get_clients(limit=3, fields=["id"])
try:
    accounting_create_client(name="Nope BV", addresses=[])
    write = "sent"
except RuntimeError as e:
    write = str(e).split(":")[0]
try:
    accounting_get_clients(consumer_id="{ACCOUNTING_ONLY}", limit=1)
    other = "sent"
except RuntimeError as e:
    other = str(e).split(":")[0]
[len(clients["items"]), write, other]
"""


def test_a_token_entry_takes_a_tool_mode() -> None:
    digest = hash_token("t" * 30)
    assert parse_entry({"name": "a", "token_sha256": digest, "tool_mode": "code"})[1].tool_mode == "code"
    assert parse_entry({"name": "b", "token_sha256": digest})[1].tool_mode is None
    with pytest.raises(ConfigError, match="tool_mode must be one of tools, discovery, code"):
        parse_entry({"name": "c", "token_sha256": digest, "tool_mode": "python"})


async def test_a_code_mode_token_runs_programs_within_its_grant_on_a_tools_mode_server() -> None:
    d = door(tokens=TOKENS)
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            async with mcp_client(base + "/mcp", CODER) as coder:
                coder_tools = [t.name for t in (await coder.list_tools()).tools]
                ran = await coder.call_tool("execute", {"code": PROGRAM})
                direct = await coder.call_tool("accounting_create_client", {"name": "x", "addresses": []})
            async with mcp_client(base + "/mcp", ADMIN) as admin:
                admin_tools = [t.name for t in (await admin.list_tools()).tools]
                refused = await admin.call_tool("execute", {"code": "1"})
    await d.runtime.aclose()
    assert coder_tools == ["find_operations", "describe_operation", "execute"]
    assert not ran.is_error and payload(ran)["result"] == [3, "OUT_OF_SCOPE", "OUT_OF_SCOPE"]
    assert direct.is_error and payload(direct)["error"] == "OUT_OF_SCOPE"
    assert "execute" not in admin_tools and len(admin_tools) > 100
    assert refused.is_error and "code mode" in payload(refused)["message"]
    sent = d.runtime.sandbox_app.state.sandbox.log
    assert not [
        e for e in sent if e["method"] != "GET" and e["operation_id"] != "generate_access_token_token_post"
    ]
    assert not [e for e in sent if ACCOUNTING_ONLY in e["path"]]


async def test_a_program_still_running_at_the_request_limit_answers_with_the_writes_it_made() -> None:
    """A program is bounded by the HTTP request's time too (not only CHIFT_CODE_TIMEOUT): it ends as a
    LIMIT_EXCEEDED tool error naming its writes, before the door would cut the request."""
    writer = "cmcp_code_mode_writer_00000000000000000"
    d = door(
        tokens={writer: {"name": "writer", "tool_mode": "code", "consumer_id": DEMO}},
        settings={"http_request_timeout": 3},
    )
    address = {
        "address_type": "main",
        "street": "Rue Haute 1",
        "city": "Brussels",
        "postal_code": "1000",
        "country": "BE",
    }
    program = (
        f"made = accounting_create_client(name='Late BV', addresses=[{address!r}])\n"
        "n = 0\nfor i in range(400000000):\n    n += i\nmade['id']"
    )
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, mcp_client(base + "/mcp", writer) as coder:
            cut = await coder.call_tool("execute", {"code": program})
    await d.runtime.aclose()
    body = payload(cut)
    assert cut.is_error and body["error"] == "LIMIT_EXCEEDED" and body["limit"] == "wall time"
    assert [w["operation"] for w in body["writes"]] == ["accounting_create_client"], body["writes"]
    booked = [
        e for e in d.runtime.sandbox_app.state.sandbox.log if e["operation_id"] == "accounting_create_client"
    ]
    assert len(booked) == 1


async def test_one_tokens_endless_programs_leave_a_worker_to_another_token() -> None:
    """Programs are capped per token: a third endless program from one token is refused as BUSY
    (naming the setting), while another token's program answers at once."""
    hog, victim = "cmcp_code_mode_hog_00000000000000000000", "cmcp_code_mode_victim_00000000000000000"
    d = door(
        tokens={hog: {"name": "hog", "tool_mode": "code"}, victim: {"name": "victim", "tool_mode": "code"}},
        settings={"code_timeout": 2, "code_workers": 3, "code_queue_timeout": 0.5},
    )
    hogs: list[Any] = []
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:

            async def endless() -> None:
                async with mcp_client(base + "/mcp", hog) as client:
                    hogs.append(await client.call_tool("execute", {"code": "while True:\n    pass"}))

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(endless)
                await anyio.sleep(0.7)
                async with mcp_client(base + "/mcp", victim) as client:
                    started = anyio.current_time()
                    answer = await client.call_tool("execute", {"code": "1 + 1"})
                    waited = anyio.current_time() - started
    await d.runtime.aclose()
    assert not answer.is_error and payload(answer)["result"] == 2 and waited < 3
    ended = sorted((payload(r)["error"], payload(r).get("setting")) for r in hogs)
    assert ended == [
        ("BUSY", "CHIFT_CODE_MAX_PROGRAMS_PER_CALLER"),
        ("LIMIT_EXCEEDED", None),
        ("LIMIT_EXCEEDED", None),
    ]
    busy = next(payload(r) for r in hogs if payload(r)["error"] == "BUSY")
    assert busy["retryable"] is True and busy["limit"] == "programs per caller" and busy["value"] == 2
