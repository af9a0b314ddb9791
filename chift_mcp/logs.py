"""Logging set-up shared by everything that runs uvicorn (the HTTP door, the sandbox on a port):
every handler on stderr, since stdout may be an MCP stdio channel."""

from __future__ import annotations

import copy
from typing import Any


def uvicorn_log_config(*loggers: str) -> dict[str, Any]:
    """uvicorn's logging config with every handler on stderr, plus ``loggers`` at INFO on it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for handler in config.get("handlers", {}).values():
        if handler.get("stream") == "ext://sys.stdout":
            handler["stream"] = "ext://sys.stderr"
    for name in loggers:
        config.setdefault("loggers", {})[name] = {
            "handlers": ["default"],
            "level": "INFO",
            "propagate": False,
        }
    return config
