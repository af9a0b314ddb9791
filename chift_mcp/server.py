"""``build_server()``: the MCP low-level server over a registry. The doors (stdio, HTTP) only run it.

Tools are data: ``tools/list`` converts the scope's ToolSpecs to MCP ``Tool`` objects once per scope
and caches them; ``tools/call`` hands the call to the registry and wraps its ToolResult.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server

from chift_mcp import __version__, prompts
from chift_mcp.connections import ScopeProvider
from chift_mcp.registry import Registry, ToolResult
from chift_mcp.toolset import Scope, ToolSpec

logger = logging.getLogger("chift_mcp.server")

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


def call_result(result: ToolResult) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=result.text)],
        structured_content=result.structured,
        is_error=result.is_error,
    )


def build_server(
    registry: Registry,
    scopes: ScopeProvider,
    *,
    name: str = "chift",
    scope_for: Callable[[Any], Awaitable[Scope]] | None = None,
) -> Server[Any]:
    """The MCP server: tools from ``registry`` as seen by the caller's scope, plus the prompts.

    The scope is ``scopes.current()`` (settings + the bound consumer's connections) unless
    ``scope_for(ctx)`` is given: a door that knows more about the caller (an HTTP bearer token)
    narrows it there. Tool lists are converted once per scope and cached.
    """
    listed: dict[tuple[Scope, int], list[types.Tool]] = {}

    async def scope_of(ctx: Any) -> Scope:
        return await scope_for(ctx) if scope_for is not None else await scopes.current()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        scope = await scope_of(ctx)
        key = (scope.view, registry.version)
        tools = listed.get(key)
        if tools is None:
            tools = listed[key] = [mcp_tool(tool) for tool in registry.tools(scope)]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
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

    @asynccontextmanager
    async def lifespan(server: Server[Any]) -> AsyncIterator[dict[str, Any]]:
        scopes.start()
        yield {}

    return Server(
        name,
        version=__version__,
        title="Chift",
        instructions=INSTRUCTIONS.get(scopes.base.mode, INSTRUCTIONS["tools"]),
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
