"""chift-mcp: the Chift unified API as MCP tools.

Public surface: ``Settings``, ``Runtime`` (wires settings -> tools -> registry -> server),
``build_server`` and ``main``. Everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chift_mcp.version import __version__

__all__ = ["Runtime", "Settings", "__version__", "build_server", "main"]

if TYPE_CHECKING:
    from chift_mcp.app import Runtime
    from chift_mcp.cli import main
    from chift_mcp.server import build_server
    from chift_mcp.settings import Settings


def __getattr__(name: str) -> Any:  # lazy: `import chift_mcp` stays cheap
    if name == "Settings":
        from chift_mcp.settings import Settings

        return Settings
    if name == "Runtime":
        from chift_mcp.app import Runtime

        return Runtime
    if name == "build_server":
        from chift_mcp.server import build_server

        return build_server
    if name == "main":
        from chift_mcp.cli import main

        return main
    raise AttributeError(name)
