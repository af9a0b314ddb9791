"""A Pydantic AI agent on chift-mcp, over stdio or streamable HTTP.

    pip install "pydantic-ai-slim[mcp]"
    python examples/pydantic_ai_agent.py                       # stdio, sandbox, scripted model
    python examples/pydantic_ai_agent.py --transport http      # starts `chift-mcp --sandbox http`
    python examples/pydantic_ai_agent.py --transport http --url https://mcp.example.com/mcp --token T
    python examples/pydantic_ai_agent.py --model openai:gpt-5  # a real model (its API key in the env)

Without ``--model`` a scripted model (Pydantic AI's FunctionModel) stands in for the LLM: it calls
``accounting_get_clients`` for the sandbox's demo consumer and answers with the names it got back,
so the example runs with no Chift account and no LLM key. Without ``--url`` it runs chift-mcp against
its built-in sandbox (``--sandbox``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from _server import DEMO_CONSUMER, sandbox_http_server, server_command
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

TOOL = "accounting_get_clients"


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """First turn: call the tool. Second turn: answer with what it returned."""
    returned = [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
    if not returned:
        if TOOL not in {t.name for t in info.function_tools}:
            raise RuntimeError(f"the server does not offer {TOOL}")
        args: dict[str, Any] = {"limit": 3}
        tool = next(t for t in info.function_tools if t.name == TOOL)
        if "consumer_id" in tool.parameters_json_schema.get("properties", {}):
            args["consumer_id"] = DEMO_CONSUMER
        return ModelResponse(parts=[ToolCallPart(TOOL, args)])
    content = returned[-1].content
    data = json.loads(content) if isinstance(content, str) else content
    names = [item.get("name") for item in (data or {}).get("items", [])]
    return ModelResponse(parts=[TextPart(json.dumps({"tools": len(info.function_tools), "clients": names}))])


@asynccontextmanager
async def chift_toolset(args: argparse.Namespace) -> AsyncIterator[MCPToolset[Any]]:
    if args.transport == "stdio":
        from fastmcp.client.transports import StdioTransport

        command = server_command(args.server_cmd)
        yield MCPToolset(StdioTransport(command[0], [*command[1:], "--sandbox"]))
    elif args.url:
        yield MCPToolset(args.url, headers={"Authorization": f"Bearer {args.token}"})
    else:
        with sandbox_http_server(server_command(args.server_cmd)) as (url, token):
            yield MCPToolset(url, headers={"Authorization": f"Bearer {token}"})


async def main() -> None:
    parser = argparse.ArgumentParser(description="A Pydantic AI agent on chift-mcp.")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--url", help="an MCP endpoint (default: start `chift-mcp --sandbox http`)")
    parser.add_argument("--token", help="the bearer token for --url")
    parser.add_argument("--server-cmd", help="how to run chift-mcp (default: chift-mcp on PATH)")
    parser.add_argument("--model", help="a Pydantic AI model name (default: a scripted model, no LLM)")
    parser.add_argument("--prompt", default="Who are the demo consumer's first three accounting clients?")
    args = parser.parse_args()
    model = args.model or FunctionModel(scripted)
    async with chift_toolset(args) as toolset:
        agent = Agent(
            model,
            toolsets=[toolset],
            instructions=f"The Chift consumer to work on is {DEMO_CONSUMER} (the sandbox's demo).",
        )
        result = await agent.run(args.prompt)
    print(result.output)


if __name__ == "__main__":
    asyncio.run(main())
