"""Shared bits of the benchmark scripts: the probe, the sandbox on a port, medians."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.processes import running_sandbox, server_env  # noqa: E402

PROBE = Path(os.environ.get("MCP_PROBE", ROOT.parent / "shared" / "tools" / "mcp_probe.py"))
SERVER = [sys.executable, "-m", "chift_mcp"]
DEMO_CONSUMER = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_CONSUMER = "22222222-2222-4222-8222-222222222222"


def probe(cmd: list[str], env: dict[str, str], *probe_args: str) -> dict[str, Any]:
    """Run ../shared/tools/mcp_probe.py against ``cmd`` and return its JSON."""
    out = subprocess.run(
        [sys.executable, str(PROBE), *probe_args, "--", *cmd],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


__all__ = [
    "ACCOUNTING_CONSUMER",
    "DEMO_CONSUMER",
    "SERVER",
    "median",
    "probe",
    "running_sandbox",
    "server_env",
]
