"""Who may see and call which tools: the :class:`Access` value and where it comes from.

- :mod:`~chift_mcp.tools.access.rules`: :class:`Access` (function config, read-only, bound consumer,
  tool lists, mode) and the function config parser.
- :mod:`~chift_mcp.tools.access.live`: :class:`ConsumerAccess` (a bound consumer's active connections,
  cached) and :class:`CallerAccess` (an HTTP caller's grant on top of the server's access).
"""

from chift_mcp.tools.access.live import (
    Caller,
    CallerAccess,
    ConsumerAccess,
    active_connections,
    active_domains,
)
from chift_mcp.tools.access.rules import (
    ANY_CONSUMER,
    DEFAULT_FUNCTION_CONFIG,
    TOOL_MODES,
    Access,
    FunctionConfig,
    parse_function_config,
)

__all__ = [
    "ANY_CONSUMER",
    "DEFAULT_FUNCTION_CONFIG",
    "TOOL_MODES",
    "Access",
    "Caller",
    "CallerAccess",
    "ConsumerAccess",
    "FunctionConfig",
    "active_connections",
    "active_domains",
    "parse_function_config",
]
