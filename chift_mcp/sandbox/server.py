"""Serve the sandbox on a real port with uvicorn (``chift-mcp sandbox``)."""

from __future__ import annotations

import copy
import logging
from typing import Any

from chift_mcp.sandbox.app import build_app
from chift_mcp.sandbox.config import SandboxConfig
from chift_mcp.spec import Spec

logger = logging.getLogger("chift_mcp.sandbox")


def log_config() -> dict[str, Any]:
    """uvicorn's logging config with every handler on stderr (stdout may be an MCP stdio channel)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for handler in config.get("handlers", {}).values():
        if handler.get("stream") == "ext://sys.stdout":
            handler["stream"] = "ext://sys.stderr"
    config.setdefault("loggers", {})["chift_mcp.sandbox"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def run(
    host: str = "127.0.0.1",
    port: int = 8765,
    config: SandboxConfig | None = None,
    *,
    spec: Spec | None = None,
    access_log: bool = False,
) -> None:
    """Serve a fake Chift API until interrupted; logs go to stderr."""
    import uvicorn

    app = build_app(spec, config)
    logger.info("Chift sandbox on http://%s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_config=log_config(), access_log=access_log, log_level="info")
