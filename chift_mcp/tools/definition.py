"""What a tool is: :class:`ToolSpec`, frozen data.

A ToolSpec says where it comes from in one field, ``origin``: ``endpoint`` (one Chift operation,
built by :mod:`chift_mcp.tools.factory`) or a local tool answered in process — ``discovery``
(find/describe/call), ``search`` (the docs search) or ``code`` (code mode). Which callers see and
may call it is decided by :mod:`chift_mcp.tools.access` and published by :mod:`chift_mcp.tools.inventory`;
what calling it does, by :mod:`chift_mcp.calls.registry`.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATIONS",
    "CONNECTION_ARG",
    "CONNECTION_SCHEMA",
    "CONSUMER_ARG",
    "Arg",
    "LocalCall",
    "Origin",
    "ToolSpec",
    "local_tool",
]

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

from chift_mcp.openapi.operations import UNIFIED_DOMAINS, Operation

if TYPE_CHECKING:
    from chift_mcp.tools.access import Access
    from chift_mcp.tools.inventory import View
    from chift_mcp.tools.result import ToolResult

Origin = Literal["endpoint", "discovery", "search", "code"]
LOCAL_ORIGINS: tuple[Origin, ...] = ("discovery", "search", "code")
CONSUMER_ARG = "consumer_id"
# The connection to use when a consumer has several active ones on a tool's API; sent as Chift's
# X-Chift-Connectionid header (docs.chift.eu developer-guides/implementation/connections).
CONNECTION_ARG = "connection_id"
CONNECTION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "The connection to use (its connectionid).",
}
Where = Literal["path", "query", "header", "body", "body_field", "page", "shape"]

ANNOTATIONS: dict[str, dict[str, bool]] = {
    "get": {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": True},
    "create": {
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": True,
    },
    "update": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": True},
    "delete": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": True},
}


class LocalCall(Protocol):
    """What a local tool's handler gets besides its arguments: who calls, what they see, and a way to
    call an endpoint operation through the registry with the same access."""

    @property
    def access(self) -> Access: ...

    @property
    def view(self) -> View: ...

    async def call_operation(
        self, name: str, arguments: Mapping[str, Any], *, max_chars: int | None = None
    ) -> ToolResult: ...


Handler = Callable[[dict[str, Any], LocalCall], Awaitable[Any]]


@dataclass(frozen=True)
class Arg:
    """Where one tool argument goes in the HTTP request."""

    # path, query, header, body (the whole body), body_field, page (limit/offset) or shape (fields)
    where: Where
    wire: str  # the name on the wire (path/query/header parameter or body property)


@dataclass(frozen=True)
class ToolSpec:
    """One tool, as data: what a client lists and what the registry needs to call it. Frozen; it never
    names who uses it (access decides who sees it, the registry what a call does)."""

    # the MCP tool name: the operationId when it fits ^[a-zA-Z0-9_-]{1,54}$, else a short derived one
    name: str
    title: str  # a human title (also in annotations["title"])
    description: str  # what it returns and when to use it, written for a model choosing between tools
    # the published JSON schema, self-contained and portable; calls validate against it
    input_schema: dict[str, Any]
    # MCP hints: title, readOnlyHint, destructiveHint, idempotentHint, openWorldHint
    annotations: dict[str, Any]
    domain: str  # the operation's domain; for a local tool, its origin
    kind: str  # get, create, update, delete; "local" for a local tool
    origin: Origin = "endpoint"  # endpoint (a Chift operation) or a local tool: discovery, search, code
    operation: Operation | None = None  # set exactly when origin == "endpoint"
    args: Mapping[str, Arg] = field(default_factory=dict)  # each argument's place in the HTTP request
    paginated: bool = False  # takes limit/offset and pages through Chift's page/size
    # A local tool answers in process: ``await handler(arguments, call)`` instead of a Chift request.
    handler: Handler | None = field(default=None, compare=False)

    @property
    def local(self) -> bool:
        return self.origin != "endpoint"

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.get("readOnlyHint"))

    @property
    def consumer_scoped(self) -> bool:
        return self.operation is not None and self.operation.consumer_scoped

    @cached_property
    def bound(self) -> ToolSpec:
        """This tool as a consumer-bound caller sees it: ``consumer_id`` gone from its schema (the
        registry injects it). Computed once per tool."""
        if CONSUMER_ARG not in self.input_schema.get("properties", {}):
            return self
        schema = dict(self.input_schema)
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k != CONSUMER_ARG}
        required = [r for r in schema.get("required", []) if r != CONSUMER_ARG]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return replace(self, input_schema=schema)

    @property
    def takes_connection(self) -> bool:
        """Whether a call may choose the consumer's connection (an endpoint of a connection's API)."""
        return self.consumer_scoped and self.domain in UNIFIED_DOMAINS

    @cached_property
    def choosing(self) -> ToolSpec:
        """This tool with ``connection_id`` in its schema, as listed to a caller whose consumer has
        several active connections on its API."""
        if not self.takes_connection:
            return self
        schema = dict(self.input_schema)
        schema["properties"] = {**schema.get("properties", {}), CONNECTION_ARG: CONNECTION_SCHEMA}
        schema["required"] = [*schema.get("required", []), CONNECTION_ARG]
        return replace(self, input_schema=schema)

    def __getstate__(self) -> dict[str, Any]:  # the pickled tool cache holds data, not derived copies
        return {k: v for k, v in self.__dict__.items() if k not in ("bound", "choosing")}


def local_tool(
    name: str,
    *,
    origin: Origin,
    title: str,
    description: str,
    input_schema: dict[str, Any],
    handler: Handler,
    read_only: bool = True,
    destructive: bool = False,
    idempotent: bool = True,
    open_world: bool = False,
) -> ToolSpec:
    """A tool answered in process (no Chift endpoint of its own). Settings and the tool mode decide
    whether it exists; operations it calls on the caller's behalf are checked one by one."""
    annotations = {
        "title": title,
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": open_world,
    }
    return ToolSpec(
        name=name,
        title=title,
        description=description,
        input_schema=input_schema,
        annotations=annotations,
        domain=origin,
        kind="local",
        origin=origin,
        handler=handler,
    )
