"""Discovery mode: three small tools instead of one per endpoint.

``find_operations`` ranks the operations a caller may use (:mod:`chift_mcp.tools.finder`),
``describe_operation`` gives one operation's full input schema and the shape of its answer,
``call_operation`` calls it through the same registry path as the direct tools: same validation,
same access, same errors. The whole tool list stays around four hundred tokens, whatever the
function config.
"""

from __future__ import annotations

__all__ = ["discovery_tools", "find_tool"]

from typing import Any

from chift_mcp.errors import ArgumentError
from chift_mcp.openapi.operations import DOMAINS, KINDS
from chift_mcp.openapi.schemas import shorten
from chift_mcp.tools.definition import LocalCall, Origin, ToolSpec, local_tool
from chift_mcp.tools.result import ToolResult


def discovery_tools() -> list[ToolSpec]:
    """The three discovery tools; they see and call what the caller's access allows."""

    async def describe(args: dict[str, Any], call: LocalCall) -> Any:
        tool = call.view.operation(args["name"])
        assert tool.operation is not None
        return {
            "name": tool.name,
            "description": tool.description,
            "kind": tool.kind,
            "read_only": tool.read_only,
            "arguments": tool.input_schema,
            "returns": tool.operation.returns,
        }

    async def call_operation(args: dict[str, Any], call: LocalCall) -> ToolResult:
        return await call.call_operation(args["name"], args.get("arguments") or {})

    name_arg = {"type": "string", "description": "Operation name from find_operations"}
    return [
        find_tool(
            "discovery",
            then="describe_operation(name) for its arguments, then call_operation(name, arguments)",
        ),
        local_tool(
            "describe_operation",
            origin="discovery",
            title="Describe a Chift operation",
            description="One operation's arguments (JSON schema) and the shape of its answer. Call before call_operation.",
            input_schema={"type": "object", "properties": {"name": name_arg}, "required": ["name"]},
            handler=describe,
        ),
        local_tool(
            "call_operation",
            origin="discovery",
            title="Call a Chift operation",
            description=(
                "Call an operation by name with its arguments (as described by describe_operation). "
                "Errors say which argument to fix and whether a retry helps."
            ),
            input_schema={
                "type": "object",
                "properties": {"name": name_arg, "arguments": {"type": "object"}},
                "required": ["name"],
            },
            handler=call_operation,
            # The access checks the operation it calls; annotated for the worst case: it may create,
            # update or delete.
            read_only=False,
            destructive=True,
            idempotent=False,
            open_world=True,
        ),
    ]


def find_tool(origin: Origin, *, then: str) -> ToolSpec:
    """``find_operations`` for discovery or code mode (the same ranking and schema; ``then`` says what
    to do with a name found)."""

    async def find(args: dict[str, Any], call: LocalCall) -> Any:
        domain, kind = args.get("domain"), args.get("kind")
        query = (args.get("query") or "").strip()
        if not query and not domain and not kind:
            raise ArgumentError("give a query, a domain or a kind", field="query")
        hits = find_operations(call, query, domain=domain, kind=kind)
        return {
            "operations": [
                {"name": t.name, "kind": t.kind, "summary": shorten(t.description, 110)}
                for t in hits[: args.get("limit", 10)]
            ],
            "total": len(hits),
            "next": then,
        }

    return local_tool(
        "find_operations",
        origin=origin,
        title="Find Chift operations",
        description=(
            "Search the Chift API operations you may call (accounting, invoicing, POS, eCommerce, PMS, "
            "payment, banking, spend management, consumers, connections). Returns names and summaries, best first."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "What you want to do, e.g. 'unpaid supplier invoices'",
                },
                "domain": {"type": "string", "enum": list(DOMAINS)},
                "kind": {"type": "string", "enum": list(KINDS)},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            },
        },
        handler=find,
    )


def find_operations(
    call: LocalCall, query: str, *, domain: str | None = None, kind: str | None = None
) -> list[ToolSpec]:
    """The caller's operations for ``query`` (all of them when empty), best first, filtered."""
    finder = call.view.finder
    ranked = [t for _, t in finder.search(query, limit=len(finder.tools))] if query else list(finder.tools)
    return [t for t in ranked if (not domain or t.domain == domain) and (not kind or t.kind == kind)]
