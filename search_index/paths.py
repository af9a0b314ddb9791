"""Where the index lives by default: the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path


def default_index() -> str:
    """``$XDG_CACHE_HOME/chift-mcp/search``, else ``~/.cache/chift-mcp/search``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "chift-mcp" / "search")
