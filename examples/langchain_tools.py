"""chift-mcp's tools as LangChain tools (langchain-mcp-adapters), over stdio or streamable HTTP.

    pip install langchain-mcp-adapters          # in its own environment: it needs mcp < 2
    python examples/langchain_tools.py                         # stdio, sandbox
    python examples/langchain_tools.py --transport http        # starts `chift-mcp --sandbox http`
    python examples/langchain_tools.py --transport http --url https://mcp.example.com/mcp --token T
    python examples/langchain_tools.py --server-cmd "/path/to/venv/bin/chift-mcp"

langchain-mcp-adapters pins the MCP SDK below 2 and chift-mcp needs 2.x, so they live in two virtual
environments: this script runs in the LangChain one and starts chift-mcp from the other
(``--server-cmd``, default ``chift-mcp`` on PATH). It loads the tools, invokes one the way an agent
would, and prints a JSON summary. Hand ``tools`` to any LangChain agent, for example
``langchain.agents.create_agent("openai:gpt-5", tools)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from _server import DEMO_CONSUMER, sandbox_http_server, server_command
from langchain_mcp_adapters.client import MultiServerMCPClient

TOOL = "accounting_get_clients"


async def load_and_call(connection: dict[str, Any]) -> dict[str, Any]:
    client = MultiServerMCPClient({"chift": connection})  # type: ignore[dict-item]
    tools = await client.get_tools()
    tool = next(t for t in tools if t.name == TOOL)
    raw = await tool.ainvoke({"consumer_id": DEMO_CONSUMER, "limit": 3})
    # Depending on the adapter version the answer is the text, or a list of content blocks.
    text = raw if isinstance(raw, str) else "".join(b.get("text", "") for b in raw if isinstance(b, dict))
    data = json.loads(text)
    return {
        "tools": len(tools),
        "read_only_hint": (tool.metadata or {}).get("readOnlyHint"),
        "clients": [item.get("name") for item in data.get("items", [])],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description="chift-mcp's tools in LangChain.")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--url", help="an MCP endpoint (default: start `chift-mcp --sandbox http`)")
    parser.add_argument("--token", help="the bearer token for --url")
    parser.add_argument("--server-cmd", help="how to run chift-mcp (default: chift-mcp on PATH)")
    args = parser.parse_args()
    command = server_command(args.server_cmd)
    if args.transport == "stdio":
        connection = {"transport": "stdio", "command": command[0], "args": [*command[1:], "--sandbox"]}
        summary = await load_and_call(connection)
    elif args.url:
        headers = {"Authorization": f"Bearer {args.token}"}
        summary = await load_and_call({"transport": "streamable_http", "url": args.url, "headers": headers})
    else:
        with sandbox_http_server(command) as (url, token):
            headers = {"Authorization": f"Bearer {token}"}
            summary = await load_and_call({"transport": "streamable_http", "url": url, "headers": headers})
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
