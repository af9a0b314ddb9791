"""Every generated tool, as published, is a snapshot in tests/__toolsnaps__/<name>.json.

A change to the tool surface is a visible diff. Regenerate with CHIFT_UPDATE_TOOLSNAPS=1.
Missing or stale snapshots fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.inventory import mcp_tool

SNAPS = Path(__file__).parents[1] / "__toolsnaps__"
UPDATE = os.environ.get("CHIFT_UPDATE_TOOLSNAPS") == "1" or os.environ.get("UPDATE_TOOLSNAPS") == "1"


def _wire(tool: ToolSpec) -> str:
    data = mcp_tool(tool).model_dump(by_alias=True, exclude_none=True, mode="json")
    data["_chift"] = {"domain": tool.domain, "kind": tool.kind}
    if tool.operation is not None:
        data["_chift"].update(method=tool.operation.method, path=tool.operation.path)
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _stem(tool: ToolSpec) -> str:
    """The snapshot's file name: code mode's find and describe share their names with discovery's."""
    return f"code_{tool.name}" if tool.origin == "code" else tool.name


def test_every_tool_matches_its_snapshot(tools: list[ToolSpec]) -> None:
    from chift_mcp.modes.code import code_mode
    from chift_mcp.modes.discovery import discovery_tools
    from chift_mcp.settings import Settings

    SNAPS.mkdir(exist_ok=True)
    local = [*discovery_tools(), *code_mode(Settings())[0]]
    expected = {_stem(tool): _wire(tool) for tool in [*tools, *local]}
    if UPDATE:
        for stale in SNAPS.glob("*.json"):
            if stale.stem not in expected:
                stale.unlink()
        for name, text in expected.items():
            (SNAPS / f"{name}.json").write_text(text, encoding="utf-8")
    on_disk = {p.stem: p.read_text(encoding="utf-8") for p in SNAPS.glob("*.json")}
    missing = sorted(set(expected) - set(on_disk))
    stale = sorted(set(on_disk) - set(expected))
    changed = sorted(n for n in expected if n in on_disk and on_disk[n] != expected[n])
    assert not missing, f"tools without a snapshot (run with CHIFT_UPDATE_TOOLSNAPS=1): {missing[:10]}"
    assert not stale, f"snapshots of tools that no longer exist: {stale[:10]}"
    assert not changed, f"tools whose schema changed (review, then CHIFT_UPDATE_TOOLSNAPS=1): {changed[:10]}"
