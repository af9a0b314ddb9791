"""Serve the sandbox on a real port with uvicorn (``chift-mcp sandbox``)."""

from __future__ import annotations

import logging

from chift_mcp.logs import uvicorn_log_config
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox.app import build_app
from chift_mcp.sandbox.config import SandboxConfig

logger = logging.getLogger("chift_mcp.sandbox")


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
    uvicorn.run(app, host=host, port=port, log_config=uvicorn_log_config("chift_mcp.sandbox"), access_log=access_log, log_level="info")
