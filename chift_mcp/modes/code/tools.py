"""Code mode's tools: find_operations, describe_operation (as a Python signature) and execute.

``find_operations`` ranks with discovery's helper; ``describe_operation`` shows an operation as the
function a program calls (:mod:`chift_mcp.modes.code.signature`); ``execute`` runs a program
(:mod:`chift_mcp.modes.code.runner`, imported on the first run) and answers its last value, what it
printed and how many operations it called, under the usual size cap (:func:`envelope`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chift_mcp.calls.shaping import shape
from chift_mcp.modes.code.signature import TYPES_NOTE, signature
from chift_mcp.modes.discovery import find_tool
from chift_mcp.tools.definition import LocalCall, ToolSpec, local_tool
from chift_mcp.tools.result import ToolResult, dumps

if TYPE_CHECKING:
    from chift_mcp.modes.code.runner import CodeRunner, Outcome

MAX_CODE = 100_000  # characters of program source
_OUTPUT_SHARE = 4  # printed output may take up to 1/4 of a cut answer; the value gets the rest


def code_tools(runner: CodeRunner, *, max_result_chars: int = 40_000) -> list[ToolSpec]:
    """The three code-mode tools, over ``runner``; they see and call what the caller's access allows."""
    limits = runner.limits

    async def describe(args: dict[str, Any], call: LocalCall) -> Any:
        tool = call.view.operation(args["name"])
        return {
            "name": tool.name,
            "kind": tool.kind,
            "description": tool.description,
            "call": signature(tool),
            "types": TYPES_NOTE,
        }

    async def execute(args: dict[str, Any], call: LocalCall) -> ToolResult:
        outcome = await runner.run(args["code"], call)
        return envelope(outcome, max_chars=max_result_chars)

    return [
        find_tool(
            "code", then="describe_operation(name) for its Python signature, then call it by name in execute"
        ),
        local_tool(
            "describe_operation",
            origin="code",
            title="Describe a Chift operation",
            description=(
                "One operation as the Python function execute's programs call: its keyword arguments "
                "(types, required first) and the shape of its answer."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Operation name from find_operations"}
                },
                "required": ["name"],
            },
            handler=describe,
        ),
        local_tool(
            "execute",
            origin="code",
            title="Run a Python program over Chift operations",
            description=(
                "Run a Python program in a sandbox (no files, network or host modules; json, datetime, re, math, "
                "collections import). Every operation is a plain function named like it, called with keyword "
                "arguments, returning its JSON as dicts and lists (lists as {items, total, next_offset}): "
                "invoices = accounting_get_invoices_by_type(invoice_type='customer_invoice', limit=1000, "
                "fields=['total']). A failed call raises RuntimeError('CODE: message Hint: ...'), which you may "
                "catch. Page, join and total in the program; its last expression is the result, returned with "
                f"what print() wrote. Limits per run: {limits.timeout:g} s, {limits.calls} operation calls."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Python source; the value of its last expression is the result",
                        "maxLength": MAX_CODE,
                    }
                },
                "required": ["code"],
            },
            handler=execute,
            # The access checks each operation the program calls; annotated for the worst case.
            read_only=False,
            destructive=True,
            idempotent=False,
            open_world=True,
        ),
    ]


def envelope(outcome: Outcome, *, max_chars: int) -> ToolResult:
    """``{"result", "output"?, "operations_called", "writes"?}`` under ``max_chars``: when too long, the
    printed output keeps its start and end, and the value is cut like any result (an item boundary
    with the usual note)."""
    answer: dict[str, Any] = {"result": outcome.value}
    if outcome.output:
        answer["output"] = outcome.output
    answer["operations_called"] = outcome.calls
    if outcome.writes:
        answer["writes"] = outcome.writes
    text = dumps(answer)
    if len(text) <= max_chars:
        return ToolResult(text, answer)
    share = max_chars // _OUTPUT_SHARE
    output = outcome.output
    if len(output) > share:
        half = share // 2 - 40
        output = (
            f"{output[:half]}\n[... {len(output) - 2 * half} characters of output cut ...]\n{output[-half:]}"
        )
    rest = {k: v for k, v in answer.items() if k != "result"}
    if output:
        rest["output"] = output
    budget = max(1000, max_chars - len(dumps(rest)) - 40)
    value = outcome.value
    cut = shape(value, max_chars=budget, page=isinstance(value, list) or _is_page(value))
    result: Any
    if cut.structured is None:  # not even one item fits, or not a list: the text, cut, with its note
        result = cut.text
    elif isinstance(value, list):  # shape() framed it as {items, total, truncated?, note?}
        result = cut.structured["items"]
        if cut.structured.get("note"):
            rest["note"] = cut.structured["note"]
    elif isinstance(value, dict):
        result = cut.structured
    else:
        result = cut.structured.get("result")
    answer = {"result": result, **rest, "truncated": True}
    return ToolResult(dumps(answer), answer)


def _is_page(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("items"), list)
