"""Agent frameworks' own MCP clients against chift-mcp and the sandbox, without an LLM.

- Pydantic AI (its ``MCPToolset``, on FastMCP's client and our mcp 2.x): a scripted ``FunctionModel``
  calls a tool over streamable HTTP (in-process door, bearer token) and over stdio; and the example
  script runs both ways.
- LangChain (``langchain-mcp-adapters``, which needs mcp < 2): it lives in a second virtual
  environment (``.venv-lc``, built by ``.ci/run``; or ``CHIFT_LC_PYTHON``), so its example script runs
  there and talks to our server over stdio and HTTP: an mcp 1.x client against our mcp 2.x server.

Each part is skipped, with the reason, when its framework is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from support.http import ACCOUNTING_ONLY, DEMO, TIMEOUT, door, serving

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
CLIENTS = ["Bakker Architects NV", "Fontaine Trading SAS", "Taylor Trading NV"]
TOKEN = "cmcp_agents_test_token_00000000000000000"
SERVER_CMD = f"{sys.executable} -m chift_mcp"


def example_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    env["PYTHONPATH"] = str(EXAMPLES)
    return env


def run_example(python: str, script: str, *args: str) -> Any:
    proc = subprocess.run(
        [python, str(EXAMPLES / script), "--server-cmd", SERVER_CMD, *args],
        env=example_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ Pydantic AI


def pydantic_ai() -> Any:
    return pytest.importorskip(
        "pydantic_ai.mcp", reason='Pydantic AI not installed: pip install -e ".[agents]"'
    )


def scripted_model(calls: list[dict[str, Any]], seen_tools: list[list[Any]]) -> Any:
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    def model(messages: list[Any], info: Any) -> Any:
        seen_tools.append(list(info.function_tools))
        returned = [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
        if len(returned) < len(calls):
            call = calls[len(returned)]
            return ModelResponse(parts=[ToolCallPart(call["name"], call["args"])])
        return ModelResponse(parts=[TextPart(json.dumps([p.content for p in returned], default=str))])

    return FunctionModel(model)


async def test_pydantic_ai_agent_calls_tools_over_http_with_a_consumer_bound_token() -> None:
    mcp = pydantic_ai()
    from pydantic_ai import Agent

    d = door(tokens={TOKEN: {"name": "agent", "consumer_id": ACCOUNTING_ONLY, "read_only": True}})
    seen: list[list[Any]] = []
    calls = [
        {"name": "accounting_get_clients", "args": {"limit": 2}},
        {"name": "accounting_get_clients", "args": {"consumer_id": DEMO}},  # another consumer: refused
    ]
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base:
            toolset = mcp.MCPToolset(
                base + "/mcp", headers={"Authorization": f"Bearer {TOKEN}"}, tool_error_behavior="failed"
            )
            agent = Agent(scripted_model(calls, seen), toolsets=[toolset])
            result = await agent.run("list two clients")
    tools = {t.name: t for t in seen[0]}
    assert "accounting_get_clients" in tools and not any(n.startswith("pos_") for n in tools)
    assert all("consumer_id" not in t.parameters_json_schema.get("properties", {}) for t in tools.values())
    assert not any(n.startswith(("accounting_create", "accounting_update")) for n in tools)  # read-only
    first, second = json.loads(result.output)
    first = json.loads(first) if isinstance(first, str) else first
    assert len(first["items"]) == 2
    assert "OUT_OF_SCOPE" in second  # surfaced to the model as a failed tool call


async def test_pydantic_ai_agent_calls_a_tool_over_stdio() -> None:
    mcp = pydantic_ai()
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai import Agent

    seen: list[list[Any]] = []
    calls = [{"name": "accounting_get_clients", "args": {"consumer_id": DEMO, "limit": 3}}]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    with anyio.fail_after(TIMEOUT):
        toolset = mcp.MCPToolset(StdioTransport(sys.executable, ["-m", "chift_mcp", "--sandbox"], env=env))
        result = await Agent(scripted_model(calls, seen), toolsets=[toolset]).run("three clients")
    (answer,) = json.loads(result.output)
    answer = json.loads(answer) if isinstance(answer, str) else answer
    assert [c["name"] for c in answer["items"]] == CLIENTS
    assert len(seen[0]) > 100  # the unbound server's whole tool list


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_pydantic_ai_example_runs(transport: str) -> None:
    pydantic_ai()
    summary = run_example(sys.executable, "pydantic_ai_agent.py", "--transport", transport)
    assert summary["clients"] == CLIENTS and summary["tools"] > 100


# ------------------------------------------------------------------ LangChain (second environment)


def langchain_python() -> str:
    python = os.environ.get("CHIFT_LC_PYTHON") or str(ROOT / ".venv-lc" / "bin" / "python")
    if not Path(python).exists():
        pytest.skip("langchain-mcp-adapters needs mcp<2: build .venv-lc as .ci/run does to run these")
    probe = subprocess.run(
        [python, "-c", "import langchain_mcp_adapters, mcp"], capture_output=True, timeout=60
    )
    if probe.returncode != 0:
        pytest.skip(f"langchain-mcp-adapters is not installed in {python}")
    return python


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_langchain_loads_the_tools_and_invokes_one(transport: str) -> None:
    summary = run_example(langchain_python(), "langchain_tools.py", "--transport", transport)
    assert summary == {"tools": summary["tools"], "read_only_hint": True, "clients": CLIENTS}
    assert summary["tools"] > 100


async def test_langchain_on_a_stateless_json_server_with_a_token() -> None:
    python = langchain_python()
    d = door(
        tokens={TOKEN: {"name": "lc", "function_config": {"accounting": ["get"]}}},
        stateless=True,
        json_response=True,
    )
    with anyio.fail_after(120):
        async with serving(d.app) as base:
            proc = await anyio.run_process(
                [
                    python,
                    str(EXAMPLES / "langchain_tools.py"),
                    "--transport",
                    "http",
                    "--url",
                    base + "/mcp",
                    "--token",
                    TOKEN,
                ],
                env=example_env(),
                check=False,
            )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    summary = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert summary["clients"] == CLIENTS
    assert summary["tools"] == len(
        [t for t in d.runtime.inventory if t.domain == "accounting" and t.kind == "get"]
    )
