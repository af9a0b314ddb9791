"""``build_server()``: the MCP low-level server over a registry. The doors (stdio, HTTP) only run it.

Tools are data: ``tools/list`` answers the caller's view of the inventory (converted to MCP ``Tool``
objects once per view, by the inventory); ``tools/call`` hands the call to the registry and wraps its
ToolResult; a tool name the server does not have at all is a JSON-RPC error (-32602, as the 2025-11-25
spec lists it) naming the closest tools, one outside the caller's access a tool error. Lists come in one
page: a cursor is -32602. The caller's access is ``access.current()`` (settings + the bound consumer's connections)
unless the door passes ``access_for(ctx)`` (the HTTP door: the bearer token's grant).

When a bound consumer's connections change (``ConsumerAccess.on_change``), the clients that listed
tools hear ``notifications/tools/list_changed``: on their connection for clients that opened with
``initialize``, on their ``subscriptions/listen`` stream for 2026-07-28 clients.
"""

from __future__ import annotations

__all__ = ["INSTRUCTIONS", "SHARED_ARGUMENTS", "build_server"]

import difflib
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from chift_mcp.calls.registry import Registry
from chift_mcp.modes import prompts
from chift_mcp.tools.access import Access, ConsumerAccess
from chift_mcp.tools.inventory import View
from chift_mcp.tools.result import ToolResult
from chift_mcp.version import __version__

logger = logging.getLogger("chift_mcp.server")
_MAX_NOTIFIED_SESSIONS = 1024

# What many tools' arguments share, said once here rather than on each tool (schemas.SAID_ONCE).
SHARED_ARGUMENTS = (
    "Shared arguments: currency is an ISO 4217 code (EUR), country ISO 3166-1 (BE), language ISO 639-1 (fr); "
    "updated_after keeps what was created or changed after that date-time; without location_id every location "
    "counts; first_name, last_name, function and company_id are for individuals (is_company=false); invoice "
    "lines come by default only when no extra request is needed upstream (include_invoice_lines=true always "
    "adds them), payments and partner details only with include_payments / include_partner_info."
)

# Chift's contract in two sentences (docs.chift.eu developer-guides/advanced/caching and
# developer-guides/implementation/connections): how this server keeps reads fresh, and the one choice left to the agent.
CHIFT_RULES = (
    "Reads of a consumer within 5 minutes of a write to it bypass Chift's 5-minute cache, so writes read back. "
    "A consumer with several connections on one API needs connection_id on that API's tools. "
)

INSTRUCTIONS = {
    "tools": (
        "Tools for the Chift unified API: one per endpoint, named <domain>_<verb>_<resource>. "
        "Most work on one consumer (an end customer): find it with consumers_get_consumers and its "
        "active connections with connections_get_connections unless the server is bound to one. "
        "List tools take limit and offset; tools that return objects take fields (keys to keep, dotted for nested ones). "
        "Accounting tools take folder_id only when the connection has several folders (accounting_get_folders). "
        "Errors say what to fix and whether a retry helps. " + CHIFT_RULES + SHARED_ARGUMENTS
    ),
    "discovery": (
        "The Chift unified API through three tools: find_operations (search what you may call), "
        "describe_operation (its arguments and answer) and call_operation (run it). Most operations work "
        "on one consumer (an end customer): find it with consumers_get_consumers and its active connections "
        "with connections_get_connections unless the server is bound to one. Accounting operations take "
        "folder_id only when the connection has several folders (accounting_get_folders). Errors say what "
        "to fix and whether a retry helps. " + CHIFT_RULES + SHARED_ARGUMENTS
    ),
    "code": (
        "The Chift unified API through code: find_operations (search what you may call), describe_operation "
        "(an operation as a Python function: keyword arguments and the shape of its answer) and execute "
        "(run a Python program). In the program every operation is a plain function named like it, called "
        "with keyword arguments and returning its JSON (no await); lists come as {items, total, next_offset} "
        "and take limit (up to 1000 per call: pages are fetched for you), offset and fields (keys to keep, "
        "dotted for nested ones); empty values are left out, so read keys with .get(). A failed call raises "
        "RuntimeError whose message starts with the error code (e.g. REQUEST_ALREADY_PROCESSED) and says what "
        "to fix. Do the paging, matching and totals in the program and make its last expression the small "
        "answer you need: only that, print() output and the number of calls come back. Most operations work "
        "on one consumer (an end customer): find it with consumers_get_consumers and its connections with "
        "connections_get_connections unless the server is bound to one. Accounting operations take folder_id "
        "only when the connection has several folders (accounting_get_folders). "
        + CHIFT_RULES
        + SHARED_ARGUMENTS
    ),
}


def call_result(result: ToolResult) -> dict[str, Any]:
    """The ``CallToolResult`` in its wire form. The SDK validates and dumps a handler's result for
    the wire either way; a model here would cost one more full pass over ``structuredContent``."""
    out: dict[str, Any] = {
        "content": [{"type": "text", "text": result.text}],
        "isError": result.is_error,
        "resultType": "complete",  # required from 2026-07-28 on; older protocol versions drop it
    }
    if result.structured is not None:
        out["structuredContent"] = result.structured
    return out


def one_page(params: types.PaginatedRequestParams | None) -> None:
    """Lists come in one page and we never issue a cursor: any cursor is unknown (the spec's -32602)."""
    if params is not None and params.cursor is not None:
        raise MCPError(
            code=types.INVALID_PARAMS,
            message="unknown cursor: this server lists everything in one page; list again without a cursor",
        )


def unknown_tool(name: str, view: View) -> MCPError:
    """The protocol error for a tool name this server does not have (the 2025-11-25 spec lists it with
    -32602), naming the closest tools the caller may call, as a tool result would."""
    names = list(dict.fromkeys([t.name for t in view.tools] + [t.name for t in view.operations]))
    close = difflib.get_close_matches(name, names, n=3) if len(name) <= 128 else []
    shown = name if len(name) <= 80 else name[:77] + "..."
    hint = f"Did you mean {', '.join(close)}?" if close else "List the tools to see what exists."
    return MCPError(
        code=types.INVALID_PARAMS, message=f"Unknown tool: {shown}. {hint}", data={"suggestions": close}
    )


class ChiftServer(Server[Any]):
    """The low-level server, advertising ``tools.listChanged`` to ``initialize`` clients when the
    tool list can change (2026-07-28 clients learn it from the ``subscriptions/listen`` handler)."""

    tools_can_change = False

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        if notification_options is None:
            notification_options = NotificationOptions(tools_changed=self.tools_can_change)
        return super().create_initialization_options(
            notification_options, experimental_capabilities, extensions
        )


def build_server(
    registry: Registry,
    access: ConsumerAccess,
    *,
    name: str = "chift",
    access_for: Callable[[Any], Awaitable[Access]] | None = None,
    notify_sessions: bool = True,
    admit: Callable[[Any, str], Awaitable[ToolResult | None]] | None = None,
) -> Server[Any]:
    """The MCP server: tools from ``registry`` as the caller's access shows them, plus the prompts.

    ``admit(ctx, tool)``, when given, may refuse a call before it runs with the tool error it returns
    (the HTTP door's rate limits)."""
    # The tool list changes only with a consumer's connections: a bound server's, or (HTTP) a caller's.
    can_change = access.base.mode == "tools" and (
        access.base.consumer_id is not None or access_for is not None
    )
    buses: weakref.WeakValueDictionary[str | None, InMemorySubscriptionBus] = weakref.WeakValueDictionary()
    # 2026-07-28 clients hear of changes on their subscriptions/listen stream (the bus); clients that
    # opened with initialize, on their connection's own channel, which any of their requests'
    # sessions can write to. The SDK gives a handler a fresh session per request and no public
    # connection identity, so the latest session is kept per connection key: the stdio peer, or an
    # HTTP session id (stateless HTTP has no channel to notify on).
    sessions: OrderedDict[str, tuple[str | None, Any]] = OrderedDict()

    def remember(ctx: Any, consumer: str | None) -> None:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or not notify_sessions:
            return
        request = getattr(ctx, "request", None)
        key = "stdio" if request is None else request.headers.get("mcp-session-id")
        if key:
            sessions[key] = (consumer, ctx.session)
            sessions.move_to_end(key)
            while len(sessions) > _MAX_NOTIFIED_SESSIONS:
                sessions.popitem(last=False)

    async def tools_changed(consumer: str | None) -> None:
        bus = buses.get(consumer)
        if bus is not None:
            await bus.publish(ToolsListChanged())
        for key, (whose, session) in list(sessions.items()):
            if whose != consumer:  # another consumer's tool list did not change
                continue
            with anyio.move_on_after(1):
                try:
                    await session.send_tool_list_changed()
                except Exception:  # that connection is gone: forget it
                    sessions.pop(key, None)

    if can_change:
        access.on_change(tools_changed)

    async def access_of(ctx: Any) -> Access:
        return await access_for(ctx) if access_for is not None else await access.current()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        one_page(params)
        caller = await access_of(ctx)
        if can_change:
            remember(ctx, caller.consumer_id)
        return types.ListToolsResult(tools=registry.view(caller).mcp_tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:  # the wire dict
        if admit is not None:  # before the caller's access is looked up: a call over the limit costs nothing
            refused = await admit(ctx, params.name)
            if refused is not None:
                return call_result(refused)
        caller = await access_of(ctx)
        if registry.inventory.get(params.name) is None:
            raise unknown_tool(params.name, registry.view(caller))
        return call_result(await registry.call(params.name, params.arguments, caller))

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        one_page(params)
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p.name,
                    title=p.title,
                    description=p.description,
                    arguments=[
                        types.PromptArgument(name=a, description=d, required=r) for a, d, r in p.arguments
                    ],
                )
                for p in prompts.PROMPTS
            ]
        )

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        caller = await access_of(ctx)
        try:
            text = prompts.render(params.name, dict(params.arguments or {}), caller)
        except KeyError:
            raise MCPError(code=types.INVALID_PARAMS, message=f"unknown prompt {params.name!r}") from None
        return types.GetPromptResult(
            messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))]
        )

    handlers: weakref.WeakValueDictionary[str | None, ListenHandler] = weakref.WeakValueDictionary()

    async def listen(ctx: Any, params: Any) -> Any:
        consumer = (await access_of(ctx)).consumer_id
        handler = handlers.get(consumer)
        if handler is None:  # lives as long as one of its streams (a running call holds it)
            bus = buses[consumer] = InMemorySubscriptionBus()
            handler = handlers[consumer] = ListenHandler(bus)
        return await handler(ctx, params)

    @asynccontextmanager
    async def lifespan(server: Server[Any]) -> AsyncIterator[dict[str, Any]]:
        access.start()
        yield {}

    server = ChiftServer(
        name,
        version=__version__,
        title="Chift",
        instructions=INSTRUCTIONS.get(access.base.mode, INSTRUCTIONS["tools"]),
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_subscriptions_listen=listen if can_change else None,
    )
    # Told to initialize clients only where a change can reach them: a connection (stdio) or an HTTP
    # session to notify; stateless HTTP has neither. 2026-07-28 clients hear it on subscriptions/listen.
    server.tools_can_change = can_change and notify_sessions
    return server
