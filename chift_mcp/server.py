"""``build_server()``: the MCP low-level server over a registry. The doors (stdio, HTTP) only run it.

Tools are data: ``tools/list`` converts the scope's ToolSpecs to MCP ``Tool`` objects once per scope
and caches them; ``tools/call`` hands the call to the registry and wraps its ToolResult.

When a bound consumer's connections change (``ScopeProvider.on_change``), the clients that listed
tools hear ``notifications/tools/list_changed``: on their connection for clients that opened with
``initialize``, on their ``subscriptions/listen`` stream for 2026-07-28 clients.
"""

from __future__ import annotations

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
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from chift_mcp import __version__, prompts
from chift_mcp.connections import ScopeProvider
from chift_mcp.registry import Registry, ToolResult
from chift_mcp.toolset import Scope, ToolSpec

logger = logging.getLogger("chift_mcp.server")
_MAX_NOTIFIED_SESSIONS = 1024

INSTRUCTIONS = {
    "tools": (
        "Tools for the Chift unified API: one per endpoint, named <domain>_<verb>_<resource>. "
        "Most work on one consumer (an end customer): find it with consumers_get_consumers and its "
        "active connections with connections_get_connections unless the server is bound to one. "
        "List tools take limit and offset; tools that return objects take fields (keys to keep, dotted for nested ones). "
        "Accounting tools take folder_id only when the connection has several folders (accounting_get_folders). "
        "Errors say what to fix and whether a retry helps."
    ),
    "discovery": (
        "The Chift unified API through three tools: find_operations (search what you may call), "
        "describe_operation (its arguments and answer) and call_operation (run it). Most operations work "
        "on one consumer (an end customer): find it with consumers_get_consumers and its active connections "
        "with connections_get_connections unless the server is bound to one. Accounting operations take "
        "folder_id only when the connection has several folders (accounting_get_folders). Errors say what "
        "to fix and whether a retry helps."
    ),
}


def mcp_tool(tool: ToolSpec) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(
            title=tool.annotations["title"],
            read_only_hint=tool.annotations["readOnlyHint"],
            destructive_hint=tool.annotations["destructiveHint"],
            idempotent_hint=tool.annotations["idempotentHint"],
            open_world_hint=tool.annotations["openWorldHint"],
        ),
    )


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
    scopes: ScopeProvider,
    *,
    name: str = "chift",
    scope_for: Callable[[Any], Awaitable[Scope]] | None = None,
    notify_sessions: bool = True,
) -> Server[Any]:
    """The MCP server: tools from ``registry`` as seen by the caller's scope, plus the prompts.

    The scope is ``scopes.current()`` (settings + the bound consumer's connections) unless
    ``scope_for(ctx)`` is given: a door that knows more about the caller (an HTTP bearer token)
    narrows it there. Tool lists are converted once per scope and cached.
    """
    listed: dict[tuple[Scope, int], list[types.Tool]] = {}
    # The tool list changes only with a consumer's connections: a bound server's, or (HTTP) a caller's.
    can_change = scopes.base.mode == "tools" and (
        scopes.base.consumer_id is not None or scope_for is not None
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
        scopes.on_change(tools_changed)

    async def scope_of(ctx: Any) -> Scope:
        return await scope_for(ctx) if scope_for is not None else await scopes.current()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        scope = await scope_of(ctx)
        if can_change:
            remember(ctx, scope.consumer_id)
        key = (scope.view, registry.version)
        tools = listed.get(key)
        if tools is None:
            tools = listed[key] = [mcp_tool(tool) for tool in registry.tools(scope)]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:  # the wire dict
        scope = await scope_of(ctx)
        return call_result(await registry.call(params.name, params.arguments, scope))

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
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
        scope = await scope_of(ctx)
        try:
            text = prompts.render(params.name, dict(params.arguments or {}), scope)
        except KeyError:
            from mcp.shared.exceptions import MCPError

            raise MCPError(code=types.INVALID_PARAMS, message=f"unknown prompt {params.name!r}") from None
        return types.GetPromptResult(
            messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))]
        )

    handlers: weakref.WeakValueDictionary[str | None, ListenHandler] = weakref.WeakValueDictionary()

    async def listen(ctx: Any, params: Any) -> Any:
        consumer = (await scope_of(ctx)).consumer_id
        handler = handlers.get(consumer)
        if handler is None:  # lives as long as one of its streams (a running call holds it)
            bus = buses[consumer] = InMemorySubscriptionBus()
            handler = handlers[consumer] = ListenHandler(bus)
        return await handler(ctx, params)

    @asynccontextmanager
    async def lifespan(server: Server[Any]) -> AsyncIterator[dict[str, Any]]:
        scopes.start()
        yield {}

    server = ChiftServer(
        name,
        version=__version__,
        title="Chift",
        instructions=INSTRUCTIONS.get(scopes.base.mode, INSTRUCTIONS["tools"]),
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_subscriptions_listen=listen if can_change else None,
    )
    server.tools_can_change = can_change
    return server
